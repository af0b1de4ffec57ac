{
  "targets": [
    {
      "target_name": "mlx_lab",
      "sources": ["<!@(node scripts/gyp-info.cjs sources)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native",
        "bindings",
        "<!(node scripts/gyp-info.cjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions"],
      "libraries": ["-L<!(node scripts/gyp-info.cjs libdir)", "-lmlx"],
      "conditions": [
        ["OS=='linux'", {
          "ldflags": ["-Wl,-rpath,'$$ORIGIN'", "-Wl,-rpath,<!(node scripts/gyp-info.cjs libdir)"],
          "libraries": ["-ldl"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++20",
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "GCC_ENABLE_CPP_RTTI": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "14.0",
            "OTHER_LDFLAGS": ["-Wl,-rpath,@loader_path", "-Wl,-rpath,<!(node scripts/gyp-info.cjs libdir)"]
          }
        }]
      ]
    }
  ]
}
