"""Invitations need the invitee's consent; members can leave; several companies mean choosing one.

The first test is the attack from issue 16, request by request: the owner of "AAA Evil" invites a
customer's user as owner, and the customer's order system then uploads a photo without X-Company.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from arv.testing.api import reset_throttles, token_client
from arv.testing.factories import jpeg_bytes
from companies import services
from companies.models import Company, Invitation, Membership
from content.models import Portrait

User = get_user_model()
INVITE = reverse("portal:member_invite")


def invite(client, email, role="editor", *, callbacks):
    with callbacks(execute=True):
        return client.post(INVITE, {"email": email, "role": role})


def link_of(message) -> str:
    """The invitation link's path, from the plain-text e-mail."""
    url = re.search(r"https?://\S+/invitations/\S+/", message.body).group(0)
    assert url in message.alternatives[0][0]
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def customer(make_user):
    """A print shop's user with one company, Customer Co, and an API token for its order system."""
    company = Company.objects.create(name="Customer Co", slug="customer")
    user = make_user("shop", email="shop@customer.example")
    Membership.objects.create(user=user, company=company, role=Membership.Role.OWNER)
    project = company.projects.create(name="Orders", slug="orders")
    return user, company, project


@pytest.fixture
def evil(make_user):
    company = Company.objects.create(name="AAA Evil", slug="aaa-evil")
    owner = make_user("mallory")
    Membership.objects.create(user=owner, company=company, role=Membership.Role.OWNER)
    company.projects.create(name="Orders", slug="orders")
    return owner, company


def upload(api, project="orders"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    image = SimpleUploadedFile("customer.jpg", jpeg_bytes(640, 480), content_type="image/jpeg")
    return api.post(
        "/api/v1/portraits/",
        {"project": project, "image": image, "customer_email": "jane@x.example"},
        format="multipart",
    )


@pytest.mark.django_db
def test_an_owner_cannot_pull_a_customer_into_their_company(client, customer, evil, django_capture_on_commit_callbacks):
    user, company, _project = customer
    mallory, evil_company = evil
    order_system = token_client(user)

    # 1. The owner of "AAA Evil" invites the customer's user, as owner.
    client.force_login(mallory)
    response = invite(client, "SHOP@customer.example", "owner", callbacks=django_capture_on_commit_callbacks)
    assert response.status_code == 302
    # Nothing granted: the invitation waits for the customer's answer.
    assert not Membership.objects.filter(user=user, company=evil_company).exists()
    invitation = Invitation.objects.get()
    assert invitation.user == user and invitation.role == "owner" and invitation.status == "pending"

    # 2. The order system uploads without X-Company: the photo lands in Customer Co.
    response = upload(order_system)
    assert response.status_code == 201, response.json()
    assert Portrait.objects.get().company == company

    # 3. Even after the customer accepts, a request without X-Company is refused, not guessed.
    services.accept_invitation(invitation=invitation, user=user)
    reset_throttles(user)
    response = upload(order_system)
    assert response.status_code == 400 and response.json()["code"] == "company_required"
    assert Portrait.objects.count() == 1
    assert not Portrait.objects.filter(company=evil_company).exists()
    # Naming the company works, as documented.
    assert upload(token_client(user, company="customer")).status_code == 201
    assert not Portrait.objects.filter(company=evil_company).exists()

    # 4. And the customer can leave the company they were invited to.
    customer_portal = Client()
    customer_portal.force_login(user)
    customer_portal.post(reverse("portal:switch_company"), {"company": "aaa-evil"})
    response = customer_portal.post(reverse("portal:leave_company"))
    assert response.status_code == 302
    assert not Membership.objects.filter(user=user, company=evil_company).exists()
    reset_throttles(user)
    assert upload(token_client(user)).status_code == 201  # one company again: no header needed


@pytest.mark.django_db
def test_an_existing_user_accepts_through_the_link(client, tenants, django_capture_on_commit_callbacks):
    client.force_login(tenants.owner)
    response = invite(client, "bob@example.com", "viewer", callbacks=django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert not Membership.objects.filter(user=tenants.outsider, company=tenants.a).exists()
    [message] = mail.outbox
    assert message.to == ["bob@example.com"] and "Alpha Studio" in message.subject
    assert "Viewer" in message.body and "/accounts/reset/" not in message.body
    link = link_of(message)

    bob = Client()
    # Logged out: asked to log in as the invitee, nothing accepted by just posting.
    page = bob.get(link)
    assert page.status_code == 200 and "Log in as bob@example.com" in page.content.decode()
    assert page["Cache-Control"].startswith("no-store") and page["Referrer-Policy"] == "no-referrer"
    assert bob.post(link, {"action": "accept"})["Location"].startswith("/accounts/login/")
    assert not Membership.objects.filter(user=tenants.outsider, company=tenants.a).exists()

    bob.force_login(tenants.outsider)
    page = bob.get(link)
    assert page.status_code == 200 and "Join Alpha Studio" in page.content.decode()
    response = bob.post(link, {"action": "accept"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    membership = Membership.objects.get(user=tenants.outsider, company=tenants.a)
    assert membership.role == "viewer"
    # Accepting opens the portal in the company just joined (Bob now has two).
    html = bob.get(reverse("portal:dashboard")).content.decode()
    assert "Alpha Studio" in html and "You are now a member of Alpha Studio" in html
    # The link is spent.
    assert bob.get(link).status_code == 410
    assert bob.post(link, {"action": "accept"}).status_code == 410


@pytest.mark.django_db
def test_only_the_invited_account_can_accept(client, tenants, make_user, django_capture_on_commit_callbacks):
    client.force_login(tenants.owner)
    invite(client, "bob@example.com", "owner", callbacks=django_capture_on_commit_callbacks)
    link = link_of(mail.outbox[0])
    invitation = Invitation.objects.get()

    # Whoever holds the link while logged in as someone else (here: the inviter, and a stranger).
    for someone in (tenants.owner, make_user("eve")):
        other = Client()
        other.force_login(someone)
        page = other.get(link)
        assert page.status_code == 403
        assert "this invitation is for bob@example.com" in page.content.decode()
        assert other.post(link, {"action": "accept"}).status_code == 403
        assert other.post(link, {"action": "decline"}).status_code == 403
        # The portal's answer buttons do not know it either.
        assert other.post(reverse("portal:invitation_accept", args=[invitation.pk])).status_code == 404
    with pytest.raises(Exception, match="another account"):
        services.accept_invitation(invitation=invitation, user=tenants.editor)
    invitation.refresh_from_db()
    assert invitation.status == "pending"
    assert not Membership.objects.filter(user=tenants.outsider, company=tenants.a).exists()
    assert Membership.objects.get(user=tenants.owner, company=tenants.a).role == "owner"


@pytest.mark.django_db
def test_declining_or_ignoring_leaves_no_membership(client, tenants, make_user, django_capture_on_commit_callbacks):
    carol = make_user("carol")
    client.force_login(tenants.owner)
    invite(client, "bob@example.com", callbacks=django_capture_on_commit_callbacks)
    invite(client, "carol@example.com", callbacks=django_capture_on_commit_callbacks)
    bob_link, carol_link = (link_of(m) for m in mail.outbox)

    bob = Client()
    bob.force_login(tenants.outsider)
    assert bob.post(bob_link, {"action": "decline"}).status_code == 302
    assert Invitation.objects.get(email="bob@example.com").status == "declined"
    assert bob.get(bob_link).status_code == 410
    assert bob.post(bob_link, {"action": "accept"}).status_code == 410

    # Carol ignores hers until it expires.
    Invitation.objects.filter(email="carol@example.com").update(expires_at=timezone.now() - timedelta(seconds=1))
    c = Client()
    c.force_login(carol)
    page = c.get(carol_link)
    assert page.status_code == 410 and "expired" in page.content.decode()
    assert c.post(carol_link, {"action": "accept"}).status_code == 410
    # Expired invitations are not offered in the portal either.
    assert "Pending invitations" not in c.get(reverse("portal:dashboard")).content.decode()
    assert (
        c.post(
            reverse("portal:invitation_accept", args=[Invitation.objects.get(email="carol@example.com").pk])
        ).status_code
        == 404
    )
    assert not Membership.objects.filter(company=tenants.a, user__in=[tenants.outsider, carol]).exists()


@pytest.mark.django_db
def test_the_owner_withdraws_or_resends_and_old_links_stop_working(client, tenants, django_capture_on_commit_callbacks):
    client.force_login(tenants.owner)
    invite(client, "bob@example.com", "viewer", callbacks=django_capture_on_commit_callbacks)
    first = link_of(mail.outbox[0])
    invitation = Invitation.objects.get()
    html = client.get(reverse("portal:member_list")).content.decode()
    assert "Pending invitations" in html and "bob@example.com" in html

    # Inviting again (a new role) or "send again" replaces the link; the old one is dead.
    invite(client, "bob@example.com", "editor", callbacks=django_capture_on_commit_callbacks)
    second = link_of(mail.outbox[1])
    assert Invitation.objects.get().role == "editor" and Invitation.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:invitation_resend", args=[invitation.pk]))
    third = link_of(mail.outbox[2])
    assert len({first, second, third}) == 3
    bob = Client()
    bob.force_login(tenants.outsider)
    assert bob.get(first).status_code == 404 and bob.get(second).status_code == 404
    assert bob.get(third).status_code == 200

    # Editors and other companies' owners cannot withdraw it.
    editor = Client()
    editor.force_login(tenants.editor)
    assert editor.post(reverse("portal:invitation_revoke", args=[invitation.pk])).status_code == 403
    assert "bob@example.com" not in editor.get(reverse("portal:member_list")).content.decode()
    stranger = Client()
    stranger.force_login(tenants.outsider)
    assert stranger.post(reverse("portal:invitation_revoke", args=[invitation.pk])).status_code == 404
    assert Invitation.objects.get().status == "pending"

    response = client.post(reverse("portal:invitation_revoke", args=[invitation.pk]))
    assert response.status_code == 302
    assert Invitation.objects.get().status == "revoked"
    assert bob.get(third).status_code == 410
    assert bob.post(third, {"action": "accept"}).status_code == 410
    assert not Membership.objects.filter(user=tenants.outsider, company=tenants.a).exists()
    # Once withdrawn it cannot be withdrawn or sent again.
    assert client.post(reverse("portal:invitation_revoke", args=[invitation.pk])).status_code == 404
    assert client.post(reverse("portal:invitation_resend", args=[invitation.pk])).status_code == 404


@pytest.mark.django_db
def test_a_new_person_sets_a_password_through_the_link(client, tenants, django_capture_on_commit_callbacks):
    client.force_login(tenants.owner)
    invite(client, "New.Person@Example.com", "editor", callbacks=django_capture_on_commit_callbacks)
    # No account is made before the invitee answers.
    assert not User.objects.filter(email__iexact="new.person@example.com").exists()
    [message] = mail.outbox
    assert message.to == ["new.person@example.com"] and "choose your password" in message.body
    link = link_of(message)

    guest = Client()
    page = guest.get(link)
    assert page.status_code == 200 and "new_password1" in page.content.decode()
    # Bad passwords: a clear message and nothing made.
    for password1, password2 in [
        ("", ""),
        ("short", "short"),
        ("password123", "password123"),
        ("Zx81!longpass", "other"),
    ]:
        response = guest.post(link, {"action": "accept", "new_password1": password1, "new_password2": password2})
        assert response.status_code == 400 and 'class="errorlist' in response.content.decode()
    assert not User.objects.filter(email="new.person@example.com").exists()

    response = guest.post(
        link,
        {
            "action": "accept",
            "full_name": "New Person",
            "new_password1": "Zx81!longpass",
            "new_password2": "Zx81!longpass",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    user = User.objects.get(email="new.person@example.com")
    assert (
        user.username == "new.person@example.com" and user.first_name == "New" and user.check_password("Zx81!longpass")
    )
    assert Membership.objects.get(user=user).role == "editor"
    assert "Weddings" in guest.get(reverse("portal:dashboard")).content.decode()  # logged in, in Alpha
    assert Client().get(link).status_code == 410


@pytest.mark.django_db
def test_a_new_address_invitation_cannot_be_taken_by_a_logged_in_stranger(
    client, tenants, django_capture_on_commit_callbacks
):
    client.force_login(tenants.owner)
    invite(client, "someone.new@example.com", callbacks=django_capture_on_commit_callbacks)
    link = link_of(mail.outbox[0])
    stranger = Client()
    stranger.force_login(tenants.outsider)
    assert stranger.get(link).status_code == 403
    assert (
        stranger.post(
            link, {"action": "accept", "new_password1": "Zx81!longpass", "new_password2": "Zx81!longpass"}
        ).status_code
        == 403
    )
    assert not Membership.objects.filter(user=tenants.outsider, company=tenants.a).exists()
    assert not User.objects.filter(email="someone.new@example.com").exists()


@pytest.mark.django_db
def test_a_new_person_may_decline_without_an_account(client, tenants, django_capture_on_commit_callbacks):
    client.force_login(tenants.owner)
    invite(client, "nope@example.com", callbacks=django_capture_on_commit_callbacks)
    link = link_of(mail.outbox[0])
    response = Client().post(link, {"action": "decline"})
    assert response.status_code == 200 and "Nothing was created for you" in response.content.decode()
    assert Invitation.objects.get().status == "declined"
    assert not User.objects.filter(email="nope@example.com").exists()


@pytest.mark.django_db
def test_an_account_without_a_password_completes_itself_through_the_link(
    client, tenants, make_user, django_capture_on_commit_callbacks
):
    """Accounts made by the old invitation flow had no password: the link lets them set one."""
    old = make_user("old@example.com", email="old@example.com")
    old.set_unusable_password()
    old.save()
    client.force_login(tenants.owner)
    invite(client, "old@example.com", callbacks=django_capture_on_commit_callbacks)
    link = link_of(mail.outbox[0])
    guest = Client()
    assert "new_password1" in guest.get(link).content.decode()
    guest.post(link, {"action": "accept", "new_password1": "Zx81!longpass", "new_password2": "Zx81!longpass"})
    old.refresh_from_db()
    assert old.check_password("Zx81!longpass")
    assert Membership.objects.filter(user=old, company=tenants.a).exists()
    assert User.objects.filter(email="old@example.com").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    ["x", "eyJpIjoxfQ:1v:forged", "." + "A" * 300, "%00", "..%2f..%2fetc", "1" * 2000],
)
def test_forged_or_damaged_links_are_404(tenants, token):
    Invitation.objects.create(
        company=tenants.a, email="bob@example.com", role="owner", expires_at=timezone.now() + timedelta(days=1)
    )
    response = Client().get(f"/invitations/{token}/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_link_signed_for_another_purpose_or_with_a_guessed_nonce_is_404(tenants):
    from django.core import signing

    invitation = Invitation.objects.create(
        company=tenants.a, email="bob@example.com", role="owner", expires_at=timezone.now() + timedelta(days=1)
    )
    guesses = [
        signing.dumps({"i": invitation.pk, "n": invitation.nonce}),  # no salt
        signing.dumps({"i": invitation.pk, "n": "0" * 32}, salt=Invitation.TOKEN_SALT),
        signing.dumps({"i": "1 OR 1=1", "n": invitation.nonce}, salt=Invitation.TOKEN_SALT),
        signing.dumps([invitation.pk], salt=Invitation.TOKEN_SALT),
    ]
    for token in guesses:
        assert Client().get(f"/invitations/{token}/").status_code == 404
    assert Client().get(f"/invitations/{invitation.token}/").status_code == 200


@pytest.mark.django_db
def test_the_portal_lists_pending_invitations_to_accept_or_decline(client, tenants, make_user):
    carol = make_user("carol")
    accept = services.invite_member(
        company=tenants.a, invited_by=tenants.owner, email="carol@example.com", role="viewer"
    )
    decline = services.invite_member(
        company=tenants.b, invited_by=tenants.outsider, email="carol@example.com", role="owner"
    )
    client.force_login(carol)
    # No company yet: the page explains and offers the invitations.
    response = client.get(reverse("portal:dashboard"))
    html = response.content.decode()
    assert response.status_code == 403 and "Pending invitations" in html
    assert "Alpha Studio" in html and "Beta Prints" in html

    assert client.get(reverse("portal:invitation_accept", args=[accept.pk])).status_code == 405
    client.post(reverse("portal:invitation_decline", args=[decline.pk]))
    client.post(reverse("portal:invitation_accept", args=[accept.pk]))
    assert list(Membership.objects.filter(user=carol).values_list("company__slug", "role")) == [("alpha", "viewer")]
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert "Weddings" in html and "Pending invitations" not in html
    # Answered: the buttons no longer work.
    assert client.post(reverse("portal:invitation_accept", args=[decline.pk])).status_code == 404


@pytest.mark.django_db
def test_answering_needs_a_login_and_csrf(tenants, make_user):
    carol = make_user("carol")
    invitation = services.invite_member(
        company=tenants.a, invited_by=tenants.owner, email="carol@example.com", role="owner"
    )
    url = reverse("portal:invitation_accept", args=[invitation.pk])
    assert Client().post(url)["Location"].startswith("/accounts/login/")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(carol)
    assert strict.post(url).status_code == 403
    assert strict.post(f"/invitations/{invitation.token}/", {"action": "accept"}).status_code == 403
    assert not Membership.objects.filter(user=carol).exists()


@pytest.mark.django_db
def test_a_member_of_the_company_already_is_not_invited(client, tenants, django_capture_on_commit_callbacks):
    client.force_login(tenants.owner)
    response = invite(client, "EDDIE@example.com", callbacks=django_capture_on_commit_callbacks)
    assert response.status_code == 400 and "already a member" in response.content.decode()
    assert not Invitation.objects.exists() and mail.outbox == []


@pytest.mark.django_db
def test_an_owner_cannot_flood_an_inbox_with_invitations(client, tenants, settings, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from companies.views import INVITATIONS_PER_HOUR

    cache.clear()
    client.force_login(tenants.owner)
    for i in range(INVITATIONS_PER_HOUR):
        assert invite(client, f"p{i}@example.com", callbacks=django_capture_on_commit_callbacks).status_code == 302
    response = invite(client, "one.more@example.com", callbacks=django_capture_on_commit_callbacks)
    assert response.status_code == 400 and "Too many invitations" in response.content.decode()
    assert len(mail.outbox) == INVITATIONS_PER_HOUR
    cache.clear()


@pytest.mark.django_db
def test_accepting_when_already_a_member_keeps_the_role(tenants):
    invitation = services.invite_member(
        company=tenants.a, invited_by=tenants.owner, email="bob@example.com", role="owner"
    )
    Membership.objects.create(user=tenants.outsider, company=tenants.a, role="viewer")  # staff added Bob meanwhile
    services.accept_invitation(invitation=invitation, user=tenants.outsider)
    assert Membership.objects.get(user=tenants.outsider, company=tenants.a).role == "viewer"


# --- Leaving ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_member_leaves_but_the_last_owner_cannot(client, tenants):
    client.force_login(tenants.editor)
    assert "Leave the company" in client.get(reverse("portal:member_list")).content.decode()
    assert client.get(reverse("portal:leave_company")).status_code == 405
    response = client.post(reverse("portal:leave_company"))
    assert response.status_code == 302
    assert not Membership.objects.filter(user=tenants.editor).exists()
    assert client.get(reverse("portal:dashboard")).status_code == 403  # no company any more

    client.force_login(tenants.owner)
    response = client.post(reverse("portal:leave_company"), follow=True)
    assert "You are the last owner of Alpha Studio" in response.content.decode()
    assert Membership.objects.filter(user=tenants.owner, company=tenants.a).exists()
    # With a second owner, the first may go.
    Membership.objects.filter(user=tenants.viewer).update(role="owner")
    client.post(reverse("portal:leave_company"))
    assert not Membership.objects.filter(user=tenants.owner, company=tenants.a).exists()


@pytest.mark.django_db
def test_leaving_needs_a_login_and_leaves_only_the_active_company(client, tenants):
    assert Client().post(reverse("portal:leave_company"))["Location"].startswith("/accounts/login/")
    Membership.objects.create(user=tenants.editor, company=tenants.b, role="editor")
    client.force_login(tenants.editor)
    client.post(reverse("portal:switch_company"), {"company": "beta"})
    client.post(reverse("portal:leave_company"))
    assert list(Membership.objects.filter(user=tenants.editor).values_list("company__slug", flat=True)) == ["alpha"]


# --- Choosing the company ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_portal_asks_a_user_of_several_companies_to_choose_and_remembers_it(client, tenants):
    Membership.objects.create(user=tenants.owner, company=tenants.b, role="viewer")
    client.force_login(tenants.owner)
    # Never "the first by name": every portal page sends them to the chooser, keeping the page.
    target = reverse("portal:project_detail", args=["schools"])
    response = client.get(target)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:choose_company") + "?next=%2Fportal%2Fprojects%2Fschools%2F"
    html = client.get(response["Location"]).content.decode()
    assert "Alpha Studio" in html and "Beta Prints" in html and 'value="/portal/projects/schools/"' in html
    assert client.post(reverse("portal:project_create"), {"name": "Where?"}).status_code == 302
    assert (
        not tenants.b.projects.filter(name="Where?").exists() and not tenants.a.projects.filter(name="Where?").exists()
    )

    # The choice goes on to the page that asked, and lasts for the session.
    response = client.post(reverse("portal:switch_company"), {"company": "beta", "next": target})
    assert response["Location"] == target
    assert client.get(target).status_code == 200
    assert "Schools" in client.get(reverse("portal:dashboard")).content.decode()
    # A new session asks again.
    client.logout()
    client.force_login(tenants.owner)
    assert client.get(reverse("portal:dashboard"))["Location"].startswith(reverse("portal:choose_company"))


@pytest.mark.django_db
def test_the_chooser_refuses_other_companies_and_unsafe_next(client, tenants):
    Membership.objects.create(user=tenants.owner, company=tenants.b, role="viewer")
    gamma = Company.objects.create(name="Gamma", slug="gamma")
    client.force_login(tenants.owner)
    response = client.post(reverse("portal:switch_company"), {"company": gamma.slug, "next": "/portal/"})
    assert response["Location"] == reverse("portal:choose_company")
    assert client.get(reverse("portal:dashboard")).status_code == 302  # still no company chosen
    for bad in ["https://evil.example/", "//evil.example/", "javascript:alert(1)"]:
        response = client.post(reverse("portal:switch_company"), {"company": "alpha", "next": bad})
        assert response["Location"] == reverse("portal:dashboard"), bad
    html = client.get(reverse("portal:choose_company") + "?next=https://evil.example/").content.decode()
    assert 'value="https://evil.example/"' not in html
    assert Client().get(reverse("portal:choose_company"))["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_a_user_of_one_company_needs_no_choice(client, tenants):
    client.force_login(tenants.editor)
    assert client.get(reverse("portal:dashboard")).status_code == 200
    assert client.get(reverse("portal:choose_company")).status_code == 200  # lists the one company
    reset_throttles(tenants.editor)
    assert token_client(tenants.editor).get("/api/v1/projects/").status_code == 200


@pytest.mark.django_db
def test_losing_the_chosen_company_asks_again(client, tenants):
    Membership.objects.create(user=tenants.owner, company=tenants.b, role="owner")
    gamma = Company.objects.create(name="Gamma", slug="gamma")
    Membership.objects.create(user=tenants.owner, company=gamma, role="viewer")
    client.force_login(tenants.owner)
    client.post(reverse("portal:switch_company"), {"company": "gamma"})
    Membership.objects.filter(user=tenants.owner, company=gamma).delete()  # removed by Gamma's owner
    assert client.get(reverse("portal:dashboard"))["Location"].startswith(reverse("portal:choose_company"))


@pytest.mark.django_db
def test_the_invitation_email_speaks_the_companys_language_and_time_zone(
    client, tenants, django_capture_on_commit_callbacks
):
    Company.objects.filter(pk=tenants.a.pk).update(language="ru", timezone="Europe/Moscow")
    client.force_login(tenants.owner)
    invite(client, "bob@example.com", "viewer", callbacks=django_capture_on_commit_callbacks)
    [message] = mail.outbox
    assert message.subject == "Вас приглашают в Alpha Studio на ARV"
    assert "роль: Наблюдатель" in message.body and "(Europe/Moscow)" in message.body
    assert "только для bob@example.com" in message.body
