#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
    // The logger registry is built here, once, as `turnout` builds it in main() before any
    // role thread starts (the tests start roles from several threads).
    spdlog::default_logger();
    return doctest::Context(argc, argv).run();
}
