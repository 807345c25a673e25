"""OpenAI, Azure OpenAI and OpenAI-compatible servers: the chat provider and the embedder."""
