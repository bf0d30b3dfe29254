"""convctl: a voice conversation controller for the OpenAI and Azure OpenAI Realtime API."""

from controller.tools import tool as tool
