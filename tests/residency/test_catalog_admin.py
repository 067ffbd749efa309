"""Staff add a model in the Django admin; decisions and pricing use it at once (SPEC §2 Pricing)."""

from decimal import Decimal

from orgs.models import User
from residency import services as residency_services
from residency.models import CatalogModel, Geo
from residency.policy import Tokens, price, residency_multiplier
from residency.selectors import catalog_prices
from tests.factories import actor_for

ADD_URL = "/admin/residency/catalogmodel/add/"


def test_staff_add_a_geo_capable_model_and_it_is_used_at_once(org, owner, api, key_for, client):
    staff = User.objects.create_superuser(email="staff@example.test", password="x")
    client.force_login(staff)
    assert client.get(ADD_URL).status_code == 200
    response = client.post(ADD_URL, {
        "id": "claude-opus-5", "display_name": "Claude Opus 5", "supports_inference_geo": "on",
        "input_price": "6", "cache_write_5m_price": "7.5", "cache_write_1h_price": "12",
        "cache_read_price": "0.60", "output_price": "30",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CatalogModel.objects.get(pk="claude-opus-5").supports_inference_geo is True

    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="W")
    decision = api(key_for(owner)).post("/v1/residency/decisions", {
        "workspace_id": ws.id, "model": "claude-opus-5", "inference_geo": "us"}, format="json")
    assert decision.status_code == 200
    assert decision.json() == {"inference_geo": "us", "routing_geo": "us", "price_multiplier": "1.1",
                               "priority_burndown_multiplier": "1.1"}

    model, prices = catalog_prices("claude-opus-5")
    geos = dict(Geo.objects.values_list("code", "price_multiplier"))
    multiplier = residency_multiplier(supports_inference_geo=model.supports_inference_geo, inference_geo="us",
                                      geo_multipliers=geos)
    # 1M output tokens: 30 * 1.1 = 33 USD; batch: 15 * 1.1 = 16.5
    assert price(prices, Tokens(output=1_000_000), multiplier=multiplier) == Decimal("33")
    assert price(prices, Tokens(output=1_000_000), multiplier=multiplier, batch=True) == Decimal("16.5")


def test_admin_refuses_negative_prices(client, db):
    staff = User.objects.create_superuser(email="staff@example.test", password="x")
    client.force_login(staff)
    response = client.post(ADD_URL, {
        "id": "claude-bad", "display_name": "Bad", "input_price": "-1", "cache_write_5m_price": "1",
        "cache_write_1h_price": "1", "cache_read_price": "1", "output_price": "1",
    })
    assert response.status_code == 200
    assert not CatalogModel.objects.filter(pk="claude-bad").exists()


def test_switching_the_geo_flag_off_changes_the_next_decision(org, owner, api, key_for):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="W")
    client = api(key_for(owner))
    body = {"workspace_id": ws.id, "model": "claude-sonnet-4-6", "inference_geo": "us"}
    assert client.post("/v1/residency/decisions", body, format="json").status_code == 200
    CatalogModel.objects.filter(pk="claude-sonnet-4-6").update(supports_inference_geo=False)
    assert client.post("/v1/residency/decisions", body, format="json").status_code == 400
