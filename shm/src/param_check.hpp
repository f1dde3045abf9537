// The value rules of the params table, in one place: the engine's command
// validation and the C ABI's lr_param_check() (which Python uses before it
// sends several values at once) both call these. Internal to looprig (the
// engine links shm's internal library). All RT safe.
#pragma once

#include "looprig/shm_client.h"
#include "rt_text.hpp"

namespace looprig::shm {

/// A subnormal double (|v| < 2.2e-308, not 0). The audio thread runs with
/// denormals-are-zero, where such a value compares equal to 0 and slips past
/// range and 0/1 checks ("just below 0" would pass as 0): looked at through
/// its bits, independent of the floating-point mode. RT safe.
bool is_subnormal(double v);

/// LR_OK if `v` is a value param `p` accepts (finite, not subnormal, within
/// [min, max], 0 or 1 for a switch, whole for an index); else LR_E_BAD_VALUE
/// with the reason written to `why`. RT safe.
int check_param_value(const lr_param_desc& p, double v, rt::Text& why);

}  // namespace looprig::shm
