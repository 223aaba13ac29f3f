// bench/micro: simdjson's parse of a body, the yardstick for mi_body.
// Built only for the benchmark (Debian's libsimdjson-dev).

#include <cstddef>
#include <cstdint>

#include <simdjson.h>


static simdjson::dom::parser        dom;
static simdjson::ondemand::parser   ondemand;
static simdjson::padded_string      body;


extern "C" void
micro_simdjson_load(const char *p, size_t len)
{
    body = simdjson::padded_string(p, len);
}


// The DOM parse: the whole document validated, every number parsed.
extern "C" int
micro_simdjson_dom(void)
{
    simdjson::dom::element  doc;

    return dom.parse(body).get(doc) == simdjson::SUCCESS;
}


// On demand: lazy, so every id is read, as a checker has to.
extern "C" int
micro_simdjson_ondemand(void)
{
    uint64_t                        sum;
    simdjson::ondemand::document    doc;
    simdjson::ondemand::array       ids;

    if (ondemand.iterate(body).get(doc) != simdjson::SUCCESS
        || doc["sceneIds"].get_array().get(ids) != simdjson::SUCCESS)
    {
        return 0;
    }

    sum = 0;

    for (auto id : ids) {
        uint64_t  v;

        if (id.get_uint64().get(v) != simdjson::SUCCESS) {
            return 0;
        }

        sum += v;
    }

    return sum != 0;
}


extern "C" const char *
micro_simdjson_implementation(void)
{
    return simdjson::get_active_implementation()->name().c_str();
}
