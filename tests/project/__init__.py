"""The repository itself: code rules, docker-compose."""
