"""convctl: a voice conversation controller for the OpenAI and Azure OpenAI Realtime API."""
