"""Sends one REST and one gRPC request to a TF Serving model and prints the
answers. Requests are built with keras_fm.serving from feature dicts.

Usage: python export/client.py --version-dir BASE/N --model NAME \
           [--host localhost] [--rest-port 8501] [--grpc-port 8500] \
           [--rows rows.json]

rows.json holds a list of feature dicts (one per example), raw values as the
model takes them; by default placeholder rows are sent.
"""

import argparse
import json
import urllib.request

import grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc

from keras_fm import serving
from keras_fm.export.saved_model import sample_rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version-dir", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--rest-port", type=int, default=8501)
    parser.add_argument("--grpc-port", type=int, default=8500)
    parser.add_argument("--rows")
    args = parser.parse_args()
    signature = serving.Signature.load(args.version_dir)
    rows = sample_rows(signature)
    if args.rows:
        with open(args.rows, encoding="utf-8") as handle:
            rows = json.load(handle)

    body = serving.rest_body(rows, signature)
    print("REST body:", body)
    url = f"http://{args.host}:{args.rest_port}/v1/models/{args.model}:predict"
    answer = urllib.request.urlopen(url, body.encode(), timeout=10).read()
    print("REST:", serving.parse_rest_response(answer))

    channel = grpc.insecure_channel(f"{args.host}:{args.grpc_port}")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = serving.predict_request(rows, signature, args.model)
    print("gRPC:", serving.parse_predict_response(stub.Predict(request, timeout=10)))


if __name__ == "__main__":
    main()
