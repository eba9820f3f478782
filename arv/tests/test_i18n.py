import pytest


@pytest.mark.django_db
def test_language_follows_the_browser(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9,en;q=0.5")
    html = response.content.decode()
    assert '<html lang="ru">' in html
    assert "Фото, которые оживают" in html
    assert "Войти" in html


@pytest.mark.django_db
def test_login_page_in_russian(client):
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Забыли пароль?" in html
    assert "Пароль" in html  # Django's own field label, translated by Django


@pytest.mark.django_db
def test_the_switcher_overrides_the_browser(client):
    response = client.post("/i18n/setlang/", {"language": "ru", "next": "/"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Фото, которые оживают" in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Photos that come alive" in client.get("/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
