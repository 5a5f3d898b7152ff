{
  "targets": [
    {
      "target_name": "openblas",
      "sources": ["openblas.c", "sparse-products.c", "base64.c"],
      "cflags": ["-O3", "-std=c11", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "-Wall", "-Wextra"],
      "libraries": ["-ldl", "-lpthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
