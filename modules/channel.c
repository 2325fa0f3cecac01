/* channel.c: the `channel` global (spec 04 §1); the work is in vm/chan.c. */
#include "lazylib.h"
#include "modules.h"

static const struct wp_libentry channel_entries[] = {
    WP_LF("new", wp_chan_l_new), WP_LF("select", wp_chan_l_select), WP_LEND};
const struct wp_libdef wp_lib_channel = {"channel", channel_entries, NULL};
