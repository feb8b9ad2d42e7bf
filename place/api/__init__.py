"""The stateless pod: Starlette under uvicorn, the websocket `/ws` and the HTTP endpoints."""
