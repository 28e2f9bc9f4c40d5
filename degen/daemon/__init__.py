"""What every DeGEN daemon (worker, oracle) stands on: TOML configuration, key files, logs, and
the run loop that builds a daemon, runs it until SIGTERM and stops it cleanly."""
