"""SPEC §2 Pricing, recomputed by hand from the catalog table (pure, Decimal only)."""

from decimal import Decimal as D

import pytest

from residency.policy import Prices, Tokens, price, priority_burndown, residency_multiplier

GEOS = {"global": D("1"), "us": D("1.100")}
OPUS_46 = Prices(D("5"), D("6.25"), D("10"), D("0.50"), D("25"))
SONNET_46 = Prices(D("3"), D("3.75"), D("6"), D("0.30"), D("15"))
HAIKU_45 = Prices(D("1"), D("1.25"), D("2"), D("0.10"), D("5"))
OPUS_41 = Prices(D("15"), D("18.75"), D("30"), D("1.50"), D("75"))
MILLION = 1_000_000


def one_million_of(category):
    return Tokens(**{category: MILLION})


@pytest.mark.parametrize(("category", "standard", "us"), [
    # Opus 4.6: 5 / 6.25 / 10 / 0.50 / 25, and each times 1.1 in us
    ("uncached_input", D("5"), D("5.5")),
    ("cache_write_5m", D("6.25"), D("6.875")),
    ("cache_write_1h", D("10"), D("11")),
    ("cache_read", D("0.50"), D("0.55")),
    ("output", D("25"), D("27.5")),
])
def test_us_multiplies_every_category_by_1_1_on_opus_4_6(category, standard, us):
    mult = residency_multiplier(supports_inference_geo=True, inference_geo="us", geo_multipliers=GEOS)
    assert mult == D("1.1")
    assert price(OPUS_46, one_million_of(category)) == standard
    assert price(OPUS_46, one_million_of(category), multiplier=mult) == us


def test_global_is_standard():
    mult = residency_multiplier(supports_inference_geo=True, inference_geo="global", geo_multipliers=GEOS)
    assert mult == 1
    assert price(SONNET_46, Tokens(output=2 * MILLION), multiplier=mult) == D("30")


@pytest.mark.parametrize("geo", ["us", "global", "not_available"])
@pytest.mark.parametrize("prices", [HAIKU_45, OPUS_41])
def test_older_models_are_standard_whatever_the_geo(prices, geo):
    mult = residency_multiplier(supports_inference_geo=False, inference_geo=geo, geo_multipliers=GEOS)
    assert mult == 1
    assert price(prices, Tokens(uncached_input=MILLION), multiplier=mult) == prices.input


def test_mixed_request_in_us_by_hand():
    # Sonnet 4.6 in us: 2,000 input, 1,000 5m-write, 500 1h-write, 10,000 cache read, 800 output
    tokens = Tokens(uncached_input=2000, cache_write_5m=1000, cache_write_1h=500, cache_read=10000, output=800)
    # standard: 2000*3 + 1000*3.75 + 500*6 + 10000*0.30 + 800*15 = 6000+3750+3000+3000+12000 = 27750 per M
    assert price(SONNET_46, tokens) == D("0.02775")
    # us: 27750 * 1.1 = 30525 per M
    assert price(SONNET_46, tokens, multiplier=D("1.1")) == D("0.030525")


def test_batch_halves_input_and_output_only_and_stacks_with_us():
    tokens = Tokens(uncached_input=MILLION, cache_write_5m=MILLION, cache_write_1h=MILLION,
                    cache_read=MILLION, output=MILLION)
    # batch: 2.5 + 6.25 + 10 + 0.50 + 12.5 = 31.75
    assert price(OPUS_46, tokens, batch=True) == D("31.75")
    # batch in us: 31.75 * 1.1 = 34.925 (input 2.75, output 13.75, caches 6.875 / 11 / 0.55)
    assert price(OPUS_46, tokens, batch=True, multiplier=D("1.1")) == D("34.925")
    assert price(OPUS_46, Tokens(uncached_input=MILLION), batch=True, multiplier=D("1.1")) == D("2.75")
    assert price(OPUS_46, Tokens(cache_read=MILLION), batch=True, multiplier=D("1.1")) == D("0.55")


def test_priority_tier_burndown():
    # each token with the 1.1 multiplier draws 1.1 tokens from the committed TPM
    assert priority_burndown(10_000, D("1.1")) == D("11000.0")
    assert priority_burndown(10_000, D("1")) == 10_000


@pytest.mark.parametrize(("surface", "locked", "expected"), [
    ("api", False, D("1.1")),
    ("apps", False, D("1.1")),  # usage-based Enterprise apps usage is billed the same way
    ("apps", True, D("1")),  # legacy_opt_out / contract keep their existing terms
    ("api", True, D("1.1")),  # the exception is for the apps surface only
])
def test_locked_organizations_keep_their_terms_on_the_apps_surface(surface, locked, expected):
    assert residency_multiplier(supports_inference_geo=True, inference_geo="us", geo_multipliers=GEOS,
                                surface=surface, locked=locked) == expected


def test_money_is_decimal_never_float():
    result = price(OPUS_46, Tokens(uncached_input=1), multiplier=D("1.1"))
    assert isinstance(result, D)
    assert result == D("0.0000055")
    with pytest.raises(TypeError):
        price(OPUS_46, Tokens(uncached_input=1), multiplier=1.1)
    with pytest.raises(TypeError):
        price(Prices(5.0, D("1"), D("1"), D("1"), D("1")), Tokens(uncached_input=1))
    with pytest.raises(TypeError):
        priority_burndown(10, 1.1)
