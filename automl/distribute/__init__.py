"""A search across processes: the chief that serves trials (keras-tuner's gRPC
service) and the workers that run them."""
