#!/usr/bin/python3
"""Minimal Python client of ferserve: model info, then one StreamPredict call
over image files, printing each frame's top label.

Uses Debian's python3-grpcio and stubs generated from proto/ at build time
(python3-grpc-tools) into build/client/python:

    /usr/bin/python3 client/python/fer_client.py --address 127.0.0.1:50051 \
        [--user USER] [--stubs build/client/python] IMAGE.jpg [IMAGE.png ...]

Prints one line per image: "FILE  TOP_LABEL  PROBABILITY  MODEL", or
"FILE  (no face)". Exits 1 with a one-line message when a call fails.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load_stubs(stubs_dir):
    sys.path.insert(0, stubs_dir)
    try:
        from fer.v1 import expression_service_pb2 as pb
        from fer.v1 import expression_service_pb2_grpc as pb_grpc
    except ImportError as e:
        sys.exit(f"fer_client: no generated stubs in {stubs_dir} ({e}); "
                 "build the fer_python_stubs target")
    return pb, pb_grpc


def requests(pb, paths, user):
    """The StreamPredict requests: the config rides on the first frame."""
    for i, path in enumerate(paths):
        with open(path, "rb") as f:
            frame = pb.Frame(encoded=f.read(), timestamp_us=i)
        request = pb.PredictRequest(frame=frame)
        if i == 0:
            request.config.CopyFrom(pb.StreamConfig(user_id=user))
        yield request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--user", default="", help="personalize for this user")
    parser.add_argument("--token", default="", help="sent as 'authorization: Bearer TOKEN'")
    parser.add_argument("--deadline", type=float, default=60, help="seconds per call")
    parser.add_argument("--stubs", default=os.environ.get(
        "FER_PYTHON_STUBS", os.path.join(HERE, "..", "..", "build", "client", "python")))
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()

    import grpc
    pb, pb_grpc = load_stubs(args.stubs)
    for path in args.images:
        if not os.path.isfile(path):
            sys.exit(f"fer_client: no such file: {path}")
    metadata = [("authorization", "Bearer " + args.token)] if args.token else None

    with grpc.insecure_channel(args.address) as channel:
        stub = pb_grpc.ExpressionServiceStub(channel)
        try:
            info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=args.deadline,
                                     metadata=metadata)
            print(f"model {info.backbone_id} on {info.device}; labels: {' '.join(info.labels)}")
            answers = stub.StreamPredict(requests(pb, args.images, args.user),
                                         timeout=args.deadline, metadata=metadata)
            for path, answer in zip(args.images, answers):
                name = os.path.basename(path)
                if not answer.faces:
                    print(f"{name}  (no face)")
                    continue
                face = answer.faces[0]
                model = (f"personalized v{answer.profile_version}" if answer.personalized
                         else "generic")
                print(f"{name}  {face.top_label}  {face.top_probability:.3f}  {model}")
        except grpc.RpcError as e:
            sys.exit(f"fer_client: {e.code().name}: {e.details()}")


if __name__ == "__main__":
    main()
