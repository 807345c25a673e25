"""An OpenAI-compatible endpoint: ``POST /v1/chat/completions`` and ``GET /v1/models``, so any OpenAI SDK can
ask Otvet by changing its base URL and using an Otvet API key (docs/openai_api.md).
"""
