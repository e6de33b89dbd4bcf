"""The live dashboard: a static page that follows a campaign's jobs over WebSocket."""
