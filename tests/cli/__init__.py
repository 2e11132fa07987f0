"""The `nurture` command: its errors, previews, the demo and the starter."""
