"""veiligheid-flow: the municipal safety programme as scheduled tasks with owner and backup."""
