#include <doctest/doctest.h>

#include "node-image/schema/schema.h"
