"""The dialogue engine, its plugin system and the domain types every plugin and frontend shares."""
