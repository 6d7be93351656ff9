"""Operations: job failures, status, admin alerts, backup/restore and retention."""
