"""Read-side queries: what people may see, shaped as views; they never write."""
