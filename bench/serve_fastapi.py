"""bench/serve_fastapi.py — the seed's service (shared/seeds/0-fastapi-mlops.txt),
the reference bench/serve.sh measures runnel's serve against.

As the seed writes it: a FastAPI app with GET /health -> {"status": "ok"} and
POST /predict taking `input: str` (a function parameter, so FastAPI reads it
from the query string: POST /predict?input=TEXT) -> {"prediction": ...} from
the seed's DummyModel (the "good"/"great" sentiment rule), logging through a
named `logging` logger at INFO on stdout with the seed's format, one line per
health check and two per prediction. Served by uvicorn, one process.

    /usr/bin/python3 bench/serve_fastapi.py PORT [HOST]

Needs Debian's python3-fastapi and python3-uvicorn.
"""
import logging
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

# src/core/logger.py
logger = logging.getLogger("mlops-lesson1")
logger.setLevel(logging.INFO)
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("%(asctime)s - %(levelname)s - %(message)s"))
if not logger.handlers:
    logger.addHandler(handler)


# src/models/dummy_model.py
class DummyModel:
    def __init__(self) -> None:
        self.model_name = "dummy_classifier"
        self.version = "1.0.0"

    def predict(self, input_data: Any) -> str:
        text = str(input_data).lower()
        if "good" in text or "great" in text:
            return "positive"
        return "negative"


# src/services/inference_service.py
model = DummyModel()
logger.info(f"Loaded model: {model.model_name}")


def predict_service(input_text: str) -> str:
    logger.info(f"Making prediction for input: {input_text[:50]}...")
    try:
        prediction = model.predict(input_text)
        logger.info(f"Prediction result: {prediction}")
        return prediction
    except Exception as e:
        logger.error(f"Error during prediction: {str(e)}")
        raise


# src/api/routes.py and main.py
app = FastAPI(title="mlops-lesson1")


@app.get("/health")
async def health_check():
    logger.info("Health check requested")
    return {"status": "ok"}


@app.post("/predict")
async def predict_route(input: str):
    return {"prediction": predict_service(input)}


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: serve_fastapi.py PORT [HOST]")
    port = int(sys.argv[1])
    host = sys.argv[2] if len(sys.argv) == 3 else "127.0.0.1"
    logger.info(f"Starting server on {host}:{port}")
    # uvicorn's own access log off: the seed logs through its logger only
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
