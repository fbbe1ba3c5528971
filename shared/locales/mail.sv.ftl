# E-posten vi skickar, på svenska. Samma meddelanden och variabler som mail.en.ftl.

verify-subject = Bekräfta din e-postadress
verify-body = Välkommen till Infentre.

    Öppna den här länken inom 24 timmar för att bekräfta din e-postadress:
    { $link }

    Om du inte har registrerat dig kan du bortse från det här mejlet: kontot raderas efter 7 dagar.
invitation-subject = Du är inbjuden till Infentre
invitation-body = Du är inbjuden att gå med i { $organisation } på Infentre.

    Öppna den här länken inom 7 dagar för att tacka ja och välja ett lösenord:
    { $link }
reset-subject = Återställ ditt lösenord
reset-body = Någon bad om att återställa lösenordet till Infentre-kontot med den här adressen.

    Öppna den här länken inom 1 timme för att välja ett nytt lösenord (den fungerar en gång):
    { $link }

    Om det inte var du kan du bortse från det här mejlet: ditt lösenord är oförändrat.
password-changed-subject = Ditt lösenord har ändrats
password-changed-body = Lösenordet till ditt Infentre-konto har ändrats och alla andra sessioner har loggats ut.

    Om det inte var du, kontakta din organisations administratör.

already-registered-subject = Någon försökte registrera sig med din adress
already-registered-body = Någon försökte skapa ett Infentre-konto med den här e-postadressen, som redan har ett.

    Om det var du, logga in i stället. Annars behöver du inte göra något: inget andra konto skapades.
confirm-new-subject = Bekräfta din nya e-postadress
confirm-new-body = Öppna den här länken inom 24 timmar för att göra detta till e-postadressen för ditt Infentre-konto:
    { $link }
change-requested-subject = Din e-postadress håller på att bytas
change-requested-body = Någon har begärt att e-postadressen för ditt Infentre-konto byts. Bytet gäller när den nya adressen har bekräftats.

    Om det inte var du, byt ditt lösenord.

what-access = begäran om tillgång (en kopia av dina uppgifter)
what-portability = begäran om dataportabilitet (dina uppgifter i maskinläsbar form)
what-correction = begäran om rättelse
what-erasure = begäran om radering
received-subject = Vi har tagit emot din { $what }
received-awaiting = Din organisations administratör måste först godkänna den (din organisation ansvarar för dina uppgifter på Infentre).
received-started = Vi har börjat med den.
received-body = Vi har tagit emot din { $what } ({ $id }). { $next }

    Vi svarar senast { $due }. Följ den i ditt konto: { $link }
awaiting-subject = En medlems { $what } väntar på ditt godkännande
awaiting-body = En medlem i din organisation har gjort en { $what } ({ $id }). Som administratör godkänner eller avslår du den:
    { $link }

    Den ska besvaras senast { $due }.
denied-subject = Din { $what } avslogs
denied-body = Din organisations administratör avslog din { $what } ({ $id }).

    Skälet: { $reason }

    Du kan klaga hos vårt dataskyddsombud ({ $dpo }) eller hos { $authority } ({ $authority_url }).
extended-subject = Mer tid för din { $what }
extended-body = Vi behöver mer tid för din { $what } ({ $id }), vilket artikel 12.3 i GDPR tillåter.

    Varför: { $reason }

    Vi svarar nu senast { $due }.
completed-subject = Din { $what } är klar
completed-export = Ladda ner den (logga in om du ombeds): { $link } (varje besök ger en ny länk som gäller en timme; exporten sparas i 7 dagar).
completed-correction = Om du bad om en ny adress, bekräfta den med länken vi skickade dit.
completed-erasure = Allt vi hade om dig är raderat, utom det lagen kräver att vi behåller. Det här är det sista mejlet vi skickar dig.
completed-body = Din { $what } ({ $id }) är klar.

    { $next }
failed-subject = Vi kunde inte slutföra din { $what }
failed-body = Vi kunde inte slutföra din { $what } ({ $id }). Vår personal har larmats och följer upp före { $due }.

    Du kan kontakta vårt dataskyddsombud på { $dpo }.
case-action-withdraw_consent = återkalla ditt samtycke till mejl om produktnyheter och till att din användning delas med Google och Facebook
case-action-access = registrera en begäran om tillgång (en kopia av dina uppgifter)
case-action-portability = registrera en begäran om dataportabilitet (dina uppgifter i en maskinläsbar fil)
case-action-erasure = registrera en begäran om radering (ditt konto och dina uppgifter raderas)
case-confirm-subject = Bekräfta din begäran till Infentre
case-confirm-body = Vi fick ditt mejl "{ $subject }" den { $received }. Innan vi gör något vill vi att du bekräftar att det var du.

    Om du bekräftar kommer vi att { $action }.

    Bekräfta här (länken fungerar en gång, i { $hours } timmar):
    { $link }

    Om du inte skrev till oss kan du bortse från det här mejlet: inget ändras.
case-member-note = Som medlem i en organisation går din begäran till organisationens administratörer, som vår integritetspolicy säger. Tidsfristen på en månad räknas från dagen ditt mejl kom fram.
case-received-subject = Vi har fått ditt meddelande
case-received-body = Vi fick ditt mejl "{ $subject }" den { $received }. Vår personal läser det och svarar dig.

    De flesta val kan du göra direkt, inloggad, i integritetscentret: { $link }
case-unknown-subject = Om ditt meddelande till Infentre
case-unknown-body = Vi fick ditt mejl "{ $subject }" den { $received }, men inget Infentre-konto använder den här adressen, så vi kan inte göra något utifrån ett mejl.

    - Om du har ett konto under en annan adress, logga in och använd integritetscentret: { $signin }
    - Om du inte har något konto finns inget om dig i vår produkt; du kan registrera dig här: { $signup }
    - För att klaga, använd vårt formulär ({ $complaint }) eller skriv till vårt dataskyddsombud på { $dpo }, eller klaga hos { $authority } ({ $authority_url }).
case-reply-footer = Ditt ärende: { $id }
service-notice-subject = Driftmeddelande: { $subject }
service-notice-footer = Det här är ett driftmeddelande om Infentres plattform som du använder: ändringar eller tekniska problem som kan påverka den. Vi skickar sådana till alla användare utan att be om samtycke, och de innehåller aldrig marknadsföring.
product-update-footer = Du får det här eftersom du har bett om produktnyheter. Avregistrera dig med ett klick: { $link }
policy-change-subject = Vi har uppdaterat vår integritetspolicy
policy-change-body = Vi har publicerat en ny version av vår integritetspolicy (version { $version }, daterad { $date }).

    Läs den här: { $link }

    Om den nya versionen ändrar hur vi använder dina uppgifter för ett ändamål du har samtyckt till frågar vi dig igen nästa gång du loggar in, och du kan alltid ändra dina val i ditt konto.
resolved-subject = Din { $what } är avslutad
resolved-completed = Vår personal har genomfört den.
resolved-refused = Den kunde inte genomföras och är avslutad.
resolved-body = Vår personal har avslutat din { $what } ({ $id }). { $outcome }

    Varför: { $reason }

    Du kan kontakta vårt dataskyddsombud på { $dpo } eller klaga hos { $authority } ({ $authority_url }).
