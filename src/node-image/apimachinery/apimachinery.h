// k3dpp::apimachinery: the pure API machinery the API server uses. See README.md.
#pragma once

#include "node-image/apimachinery/limits.h"     // IWYU pragma: export
#include "node-image/apimachinery/patch.h"      // IWYU pragma: export
#include "node-image/apimachinery/protobuf.h"   // IWYU pragma: export
#include "node-image/apimachinery/selectors.h"  // IWYU pragma: export
#include "node-image/apimachinery/yaml.h"       // IWYU pragma: export
