"""The web widget: a chat WebSocket driving the engine, the embeddable script and a demo page."""
