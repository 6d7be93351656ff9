"""Access for people with a browser: sign-in links, links in mail that act on one task,
calendar subscriptions and each person's mail preferences."""
