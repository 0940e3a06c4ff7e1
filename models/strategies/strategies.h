#pragma once
// Factories of the strategy classes, one per file in this folder; the table that names them is
// in models/strategy.cpp. Private to models/.
#include <memory>

#include "models/strategy.h"

namespace moesim::strategies {

std::unique_ptr<RoutingStrategy> make_flat(const ParamValues& p);     // flat.cpp
std::unique_ptr<RoutingStrategy> make_switch(const ParamValues& p);   // flat.cpp
std::unique_ptr<RoutingStrategy> make_gshard(const ParamValues& p);   // flat.cpp
std::unique_ptr<RoutingStrategy> make_smile(const ParamValues& p);    // smile.cpp
std::unique_ptr<RoutingStrategy> make_scomoe_seq(const ParamValues& p);   // scomoe.cpp
std::unique_ptr<RoutingStrategy> make_scomoe_feat(const ParamValues& p);  // scomoe.cpp
std::unique_ptr<RoutingStrategy> make_ta_moe(const ParamValues& p);   // ta_moe.cpp
std::unique_ptr<RoutingStrategy> make_hier_a2a(const ParamValues& p); // hier_a2a.cpp
std::unique_ptr<RoutingStrategy> make_node_limited(const ParamValues& p);  // node_limited.cpp

}  // namespace moesim::strategies
