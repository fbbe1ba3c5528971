# The e-mails we send people, in English. Variables: $link, $organisation, $id, $due, $what,
# $reason, $dpo, $authority, $authority_url. A unit test keeps mail.sv.ftl complete.

verify-subject = Verify your e-mail address
verify-body = Welcome to Infentre.

    Open this link within 24 hours to verify your e-mail address:
    { $link }

    If you did not sign up, ignore this e-mail: the account is erased after 7 days.
invitation-subject = You are invited to Infentre
invitation-body = You are invited to join { $organisation } on Infentre.

    Open this link within 7 days to accept and choose a password:
    { $link }
reset-subject = Reset your password
reset-body = Someone asked to reset the password of the Infentre account with this address.

    Open this link within 1 hour to choose a new password (it works once):
    { $link }

    If it was not you, ignore this e-mail: your password stays as it is.
password-changed-subject = Your password was changed
password-changed-body = The password of your Infentre account was changed and every other session was signed out.

    If you did not do this, contact your organisation's admin.

already-registered-subject = Someone tried to sign up with your address
already-registered-body = Someone tried to create an Infentre account with this e-mail address, which already has one.

    If it was you, sign in instead. If not, you need do nothing: no second account was created.
confirm-new-subject = Confirm your new e-mail address
confirm-new-body = Open this link within 24 hours to make this the e-mail address of your Infentre account:
    { $link }
change-requested-subject = Your e-mail address is being changed
change-requested-body = A change of your Infentre account's e-mail address was requested. It takes effect once the new address is confirmed.

    If you did not ask for this, change your password.

what-access = access request (a copy of your data)
what-portability = portability request (your data in a machine-readable form)
what-correction = correction request
what-erasure = erasure request
received-subject = We received your { $what }
received-awaiting = Your organisation's admin must approve it first (your organisation is responsible for your data on Infentre).
received-started = We have started on it.
received-body = We received your { $what } ({ $id }). { $next }

    We answer by { $due } at the latest. Follow it in your account: { $link }
awaiting-subject = A member's { $what } awaits your approval
awaiting-body = A member of your organisation filed a { $what } ({ $id }). As an admin, approve or deny it:
    { $link }

    It must be answered by { $due }.
denied-subject = Your { $what } was denied
denied-body = Your organisation's admin denied your { $what } ({ $id }).

    Their reason: { $reason }

    You may complain to our data protection officer ({ $dpo }) or to { $authority } ({ $authority_url }).
extended-subject = More time for your { $what }
extended-body = We need more time for your { $what } ({ $id }), as GDPR Art. 12(3) allows.

    Why: { $reason }

    We now answer by { $due }.
completed-subject = Your { $what } is done
completed-export = Download it (sign in if asked): { $link } (each visit gives a fresh link that lasts an hour; the export is kept 7 days).
completed-correction = If you asked for a new address, confirm it by the link we sent there.
completed-erasure = Everything we held about you is erased, except what the law requires us to keep. This is the last e-mail we send you.
completed-body = Your { $what } ({ $id }) is done.

    { $next }
failed-subject = We could not complete your { $what }
failed-body = We could not complete your { $what } ({ $id }). Our staff have been alerted and will follow up before { $due }.

    You may contact our data protection officer at { $dpo }.
case-action-withdraw_consent = withdraw your consent to product update e-mails and to sharing your usage with Google and Facebook
case-action-access = file an access request (a copy of your data)
case-action-portability = file a portability request (your data in a machine-readable file)
case-action-erasure = file an erasure request (your account and data erased)
case-confirm-subject = Confirm your request to Infentre
case-confirm-body = We received your e-mail "{ $subject }" on { $received }. Before we act on it, please confirm that it was you.

    If you confirm, we will { $action }.

    Confirm here (the link works once, for { $hours } hours):
    { $link }

    If you did not write to us, ignore this e-mail: nothing will change.
case-member-note = As a member of an organisation, your request goes to your organisation's admins, as our privacy notice says. The one-month deadline counts from the day your e-mail arrived.
case-received-subject = We received your message
case-received-body = We received your e-mail "{ $subject }" on { $received }. Our staff will read it and answer you.

    Most choices are yours to make at once, signed in, in the privacy center: { $link }
case-unknown-subject = About your message to Infentre
case-unknown-body = We received your e-mail "{ $subject }" on { $received }, but no Infentre account uses this address, so we cannot act on it by e-mail.

    - If you have an account under another address, sign in and use the privacy center: { $signin }
    - If you have none, there is nothing about you in our product; you may sign up here: { $signup }
    - To complain, use our form ({ $complaint }) or write to our data protection officer at { $dpo }, or complain to { $authority } ({ $authority_url }).
case-reply-footer = Your case: { $id }
service-notice-subject = Service notice: { $subject }
service-notice-footer = This is a service notice about the Infentre platform you use: changes or technical issues that may affect it. We send these to every user without asking for consent, and they never contain marketing.
product-update-footer = You get this because you asked for product updates. Unsubscribe with one click: { $link }
policy-change-subject = We have updated our privacy notice
policy-change-body = We have published a new version of our privacy notice (version { $version }, dated { $date }).

    Read it here: { $link }

    Where the new version changes how we use your information for a purpose you agreed to, we will ask you again the next time you sign in, and you can change your choices at any time in your account.
resolved-subject = Your { $what } is closed
resolved-completed = It was carried out by our staff.
resolved-refused = It could not be carried out, and is closed.
resolved-body = Our staff have closed your { $what } ({ $id }). { $outcome }

    Why: { $reason }

    You may contact our data protection officer at { $dpo }, or complain to { $authority } ({ $authority_url }).
