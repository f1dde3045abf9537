// The --fx scenario's commands (fx_scenario.hpp).
#include "fx_scenario.hpp"

#include "core_rig.hpp"

#include <utility>

namespace looprig::bench {

void queue_fx(Rig& rig, uint32_t loops) {
    using test::make_param;
    const std::pair<uint32_t, double> strip[] = {
        {LR_P_HP_ON, 1},         {LR_P_HP_FREQ, 80},       {LR_P_LP_ON, 1},         {LR_P_LP_FREQ, 12000},
        {LR_P_LP_Q, 1.2},        {LR_P_EQ_LOW_GAIN, 3},    {LR_P_EQ_MID_GAIN, -4},  {LR_P_EQ_MID_Q, 1.4},
        {LR_P_EQ_HIGH_GAIN, 2},  {LR_P_SEND1_LEVEL, -12},  {LR_P_SEND2_LEVEL, -10}, {LR_P_SEND2_PRE, 1},
    };
    for (uint32_t i = 0; i < loops; ++i) {
        for (const auto& [id, v] : strip) rig.send(make_param(id, static_cast<int32_t>(i), v));
        rig.send(make_param(LR_P_GROUP, static_cast<int32_t>(i), static_cast<double>(i % LR_GROUPS)));
    }
    rig.send(make_param(LR_P_DELAY_BEATS, 0, 0.75));
    rig.send(make_param(LR_P_DELAY_FEEDBACK, 0, 0.4));
    rig.send(make_param(LR_P_REVERB_DECAY, 0, 2.5));
}

}  // namespace looprig::bench
