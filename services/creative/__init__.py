"""The creative workflow: briefs, storyboards written from them, and their scenes."""
