"""E-mails of the concertation, written to the outbox (``geo.outbox``) inside the caller's transaction.

Who is told what: followers who confirmed their address get the calendar notices (opening, three
days left, closing) and the bilan; a contributor who left an e-mail (and repliers who asked) are
told when the team answers. Addresses are read here and nowhere else in the domain; no message
reveals one person's address to another.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from geo.outbox import outbox_enqueue
from urbanisme.models import (
    ContributionAuthor,
    NoticeKind,
    Phase,
    Project,
    ProjectFollower,
    Reply,
    Visibility,
)

EMAIL = "email"
UNSUBSCRIBE_SALT = "urbanisme.unsubscribe"


def unsubscribe_token(follower: ProjectFollower) -> str:
    """A signed, non-guessable token: one click unsubscribes, and nobody can unsubscribe someone else."""
    return signing.dumps(follower.pk, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(follower: ProjectFollower) -> str:
    return f"{settings.PUBLIC_BASE_URL}/projets/desabonnement/{quote(unsubscribe_token(follower), safe='')}/"


def project_url(project: Project) -> str:
    return f"{settings.PUBLIC_BASE_URL}/projets/{quote(project.slug)}/"


def _email(
    *,
    to: str,
    key: str,
    project: Project,
    subject: str,
    paragraphs: list[str],
    link: str,
    link_label: str,
    unsubscribe_url: str = "",
) -> None:
    text = "\n\n".join([*paragraphs, f"{link_label} : {link}"])
    if unsubscribe_url:
        text += "\n\n" + _("Ne plus recevoir les nouvelles de ce projet : %(url)s") % {"url": unsubscribe_url}
    html = render_to_string(
        "urbanisme/email/message.html",
        {
            "subject": subject,
            "project_title": project.title,
            "paragraphs": paragraphs,
            "link": link,
            "link_label": link_label,
            "unsubscribe_url": unsubscribe_url,
        },
    )
    outbox_enqueue(
        kind=EMAIL,
        destination=to,
        dedupe_key=key,
        subject=subject,
        body_text=text + "\n",
        body_html=html,
        topic=f"project:{project.pk}",
    )


def notify_follow_confirmation(*, follower: ProjectFollower, token: str) -> None:
    project = follower.project
    base = f"{settings.PUBLIC_BASE_URL}/projets/abonnement/{quote(token, safe='')}"
    with translation.override(settings.LANGUAGE_CODE):
        _email(
            to=follower.email,
            key=f"urbanisme:follow:{follower.pk}:{follower.confirm_token_hash[:16]}",
            project=project,
            subject=_("Confirmez votre abonnement au projet « %(project)s »") % {"project": project.title},
            paragraphs=[
                _(
                    "Vous avez demandé à suivre la concertation sur ce projet. Confirmez votre adresse pour "
                    "recevoir l'ouverture et la clôture des phases et la publication du bilan."
                ),
                _(
                    "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : rien ne vous sera envoyé."
                ),
            ],
            link=f"{base}/confirmer/",
            link_label=_("Confirmer mon abonnement"),
        )


def _notice_text(project: Project, phase: Phase | None, kind: str) -> tuple[str, list[str]]:
    title = project.title
    if kind == NoticeKind.BILAN:
        return (
            _("Le bilan de la concertation « %(project)s » est publié") % {"project": title},
            [_("Le bilan présente les contributions reçues, les réponses de l'équipe et la méthode suivie.")],
        )
    assert phase is not None
    dates = {
        "phase": phase.label,
        "start": date_format(phase.start_date, "DATE_FORMAT"),
        "end": date_format(phase.end_date, "DATE_FORMAT"),
    }
    if kind == NoticeKind.OPENED:
        return (
            _("La concertation est ouverte : « %(project)s »") % {"project": title},
            [
                _(
                    "La phase « %(phase)s » est ouverte du %(start)s au %(end)s inclus : vous pouvez contribuer."
                )
                % dates
            ],
        )
    if kind == NoticeKind.CLOSING_SOON:
        return (
            _("La concertation se termine bientôt : « %(project)s »") % {"project": title},
            [
                _(
                    "La phase « %(phase)s » se termine le %(end)s au soir : il reste quelques jours pour contribuer."
                )
                % dates
            ],
        )
    return (
        _("La concertation est close : « %(project)s »") % {"project": title},
        [
            _(
                "La phase « %(phase)s » est terminée depuis le %(end)s au soir. Merci de votre participation ; les contributions restent consultables."
            )
            % dates
        ],
    )


def notify_followers(*, project: Project, phase: Phase | None, kind: str, notice_id: int) -> int:
    """One e-mail per confirmed follower; returns how many were written."""
    followers = list(project.followers.filter(confirmed_at__isnull=False).order_by("pk"))
    with translation.override(settings.LANGUAGE_CODE):
        subject, paragraphs = _notice_text(project, phase, kind)
        for follower in followers:
            _email(
                to=follower.email,
                key=f"urbanisme:notice:{notice_id}:{follower.pk}",
                project=project,
                subject=subject,
                paragraphs=paragraphs,
                link=project_url(project) + ("bilan/" if kind == NoticeKind.BILAN else ""),
                link_label=_("Voir le projet") if kind != NoticeKind.BILAN else _("Lire le bilan"),
                unsubscribe_url=unsubscribe_url(follower),
            )
    return len(followers)


def notify_official_answer(*, reply: Reply) -> int:
    """Tell the contributor, and repliers of the thread who asked, that the team answered."""
    contribution = reply.contribution
    project = contribution.project
    recipients: dict[str, None] = {}
    authors: list[Any] = list(ContributionAuthor.objects.filter(contribution=contribution, notify=True))
    authors += list(
        ContributionAuthor.objects.filter(
            reply__contribution=contribution, reply__visibility=Visibility.PUBLISHED, notify=True
        )
    )
    for author in authors:
        if author.email:
            recipients[author.email] = None
    link = f"{project_url(project)}contributions/{contribution.pk}/"
    with translation.override(settings.LANGUAGE_CODE):
        for email in recipients:
            _email(
                to=email,
                key=f"urbanisme:answer:{reply.pk}:{email}",
                project=project,
                subject=_("L'équipe du projet a répondu à « %(title)s »") % {"title": contribution.title},
                paragraphs=[
                    _("L'équipe du projet « %(project)s » a publié une réponse officielle :")
                    % {"project": project.title},
                    reply.text,
                ],
                link=link,
                link_label=_("Voir la contribution et la réponse"),
            )
    return len(recipients)
