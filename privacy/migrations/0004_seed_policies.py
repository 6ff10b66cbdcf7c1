"""Seed the first published privacy policy and cookie policy."""

import datetime

from django.db import migrations

PRIVACY_POLICY = """\
This policy explains what personal information the Console cloud collects when you use
its model API, this console and related services (together, "the Service"), what it is
used for, who it is shared with, how long it is kept and what you can do about it.

## 1. What we collect

### Information you give us

- **Account details**: your name, email address and sign-in credentials.
- **API content**: the prompts and other content you send to the models for processing.
- **Billing details**: for paid plans, handled by our payment processors on our behalf.
- **Support messages**: whatever you tell our support team.

### Information collected automatically

- **Usage information**: which endpoints you call, response times and usage patterns.
- **Technical information**: device and browser type, operating system, IP address and
  referring pages.
- **Performance information**: error rates, model performance and capacity figures.
- **Cookies**: see the [cookie policy](/policies/cookies/). Only strictly necessary
  cookies are set unless you agree to more, and you can change your choice at any time
  from **Cookie settings** at the bottom of every page.

## 2. Why we use it

- To run, maintain and improve the Service.
- To improve the safety, accuracy and quality of our models, unless you opt out (see
  section 7).
- To manage your account, sign you in securely and answer support requests.
- To understand how the Service is used, with analytics you have agreed to.
- To detect, prevent and respond to abuse, fraud and security incidents.
- To meet our legal obligations.
- To send you service and security messages. Product news is sent only if you ask for it.

## 3. Your content and model training

Content you send is processed to produce a response and may be cached briefly for
performance. Workspaces can turn on **zero data retention**, in which case content is not
stored after the response. Where content is used to improve models it is de-identified
first, and you or your workspace can opt out of training at any time in the privacy
center.

## 4. Sharing

**We do not sell your personal information.** We share it only:

- with providers that host, bill, monitor or support the Service for us, under contract;
- when the law requires it, or to protect the Service, our users or the public from fraud
  and security threats;
- with a successor organisation if the Service is merged, acquired or sold.

## 5. Security

Data is encrypted in transit and at rest, access is limited to the people who need it,
systems are monitored, and we keep an audit trail of security-relevant actions. We
review these measures regularly and have a plan for responding to incidents.

## 6. How long we keep it

| Information | Kept for |
|---|---|
| Account information | While your account is open, then for a limited period after it is closed |
| API usage records | 30 to 90 days, as your workspace chooses |
| Analytics | Only in aggregated, anonymised form after that |
| Support messages | Two to three years |

## 7. Your rights and choices

From the privacy center you can:

- get a copy of your information in a portable format;
- correct information that is wrong, or delete your account and its data;
- restrict or object to processing, and withdraw consent you gave;
- opt out of model training, of non-essential email and of non-necessary cookies;
- tell us not to sell or share your personal information. A Global Privacy Control
  signal sent by your browser is treated as that request.

## 8. International transfers

The Service runs in more than one country. When information crosses borders we use the
safeguards data protection law requires.

## 9. Children

The Service is not for children under 13 and we do not knowingly collect their
information. If you believe a child has given us information, tell us through the
privacy center and we will delete it.

## 10. Regional rights

- **European Economic Area and United Kingdom**: you may also object to processing based
  on legitimate interests, ask us to restrict processing, withdraw consent and complain
  to your supervisory authority.
- **California**: you may ask what we collect and how it is used, ask us to delete it,
  opt out of its sale or sharing, and you will not be treated differently for doing so.

## 11. Other services

Links to other websites or services are governed by their own policies, not this one.

## 12. Changes to this policy

When this policy changes, the new version and the date it takes effect are published on
this page, and earlier versions stay listed. For material changes we email every user in
advance and ask you to acknowledge the change when it takes effect.

## 13. Contact

Questions about this policy or about your information can be sent through the privacy
center, or to our data protection officer at the address shown there.
"""

COOKIE_POLICY = """\
Cookies are small files a website stores in your browser. This console uses as few as
it can, and nothing outside the *strictly necessary* category is set, and no script of
such a category is loaded, until you agree to it.

## Categories

| Category | What it does | Example cookies |
|---|---|---|
| Strictly necessary | Sign-in, security (CSRF protection), remembering your cookie choice | `sessionid`, `csrftoken`, `console_visitor`, `console_consent` |
| Preferences | Remembers display choices | `console_prefs` |
| Analytics | Tells us, in aggregate, how pages are used | `_console_analytics` |
| Marketing | Measures whether our campaigns reach people | `_console_marketing` |

## Your choice

The banner offers **Accept all**, **Reject all** and **Customize** with equal weight, and
no optional category is pre-selected. You can change or withdraw your choice at any time
from **Cookie settings** at the bottom of every page; withdrawing a category removes its
cookies.

If your browser sends a **Global Privacy Control** signal, analytics and marketing stay
off and we record that the signal was honoured.

## Proof of your choice

We keep a record of each decision: a random visitor identifier, your account if you are
signed in, the categories chosen, the versions of this policy and of the banner text
shown, how the choice was made, the time, a keyed hash of your IP address (never the
address itself) and your browser's user agent.
"""


def seed(apps, schema_editor):
    from privacy.policies.rendering import policy_markdown_render

    PolicyVersion = apps.get_model("privacy", "PolicyVersion")
    effective = datetime.datetime(2025, 1, 15, tzinfo=datetime.UTC)
    for kind, title, text in (
        ("privacy", "Privacy policy", PRIVACY_POLICY),
        ("cookie", "Cookie policy", COOKIE_POLICY),
    ):
        PolicyVersion.objects.get_or_create(
            kind=kind,
            version="2025-01-15",
            defaults={
                "title": title,
                "body_markdown": text,
                "body_html": policy_markdown_render(text),
                "summary_of_changes": "First published version.",
                "material_change": False,
                "effective_at": effective,
                "published_at": effective,
                "created_at": effective,
            },
        )


def unseed(apps, schema_editor):
    PolicyVersion = apps.get_model("privacy", "PolicyVersion")
    PolicyVersion.objects.filter(version="2025-01-15", consent_records__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("privacy", "0003_consent_and_policies")]

    operations = [migrations.RunPython(seed, unseed)]
