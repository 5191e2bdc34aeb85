"""The IVR's prompts in each language shipped (en, de, fr, es): one entry per prompt, a text per language, with
``{placeholders}`` filled by tasks/selfservice/speech.say. Written to be heard: short sentences, the key last."""

from __future__ import annotations

PROMPTS: dict[str, dict[str, str]] = {
    "welcome": {
        "en": "Welcome to {company}, accounts receivable.",
        "de": "Willkommen bei {company}, Debitorenbuchhaltung.",
        "fr": "Bienvenue chez {company}, service de recouvrement.",
        "es": "Bienvenido a {company}, cuentas por cobrar.",
    },
    "about": {
        "en": "This call is about the account of {customer}.",
        "de": "Es geht um das Konto von {customer}.",
        "fr": "Cet appel concerne le compte de {customer}.",
        "es": "Esta llamada se refiere a la cuenta de {customer}.",
    },
    "menu": {
        "en": "For the amount past due, press 1. For your last payment, press 2. For your next due date, press 3. "
              "For a pay link by text or a statement by email, press 4. To promise a payment, press 5. "
              "To speak to your account manager, press 0.",
        "de": "Für den überfälligen Betrag drücken Sie die 1. Für Ihre letzte Zahlung die 2. Für die nächste "
              "Fälligkeit die 3. Für einen Zahlungslink per SMS oder einen Kontoauszug per E-Mail die 4. Um eine "
              "Zahlung zuzusagen, die 5. Um mit Ihrem Ansprechpartner zu sprechen, die 0.",
        "fr": "Pour le montant échu, tapez 1. Pour votre dernier paiement, tapez 2. Pour votre prochaine échéance, "
              "tapez 3. Pour un lien de paiement par SMS ou un relevé par e-mail, tapez 4. Pour promettre un "
              "paiement, tapez 5. Pour parler à votre gestionnaire de compte, tapez 0.",
        "es": "Para el importe vencido, pulse 1. Para su último pago, pulse 2. Para su próximo vencimiento, pulse 3. "
              "Para un enlace de pago por SMS o un extracto por correo electrónico, pulse 4. Para prometer un pago, "
              "pulse 5. Para hablar con su gestor de cuenta, pulse 0.",
    },
    "choose": {
        "en": "This number belongs to several accounts.",
        "de": "Diese Nummer gehört zu mehreren Konten.",
        "fr": "Ce numéro appartient à plusieurs comptes.",
        "es": "Este número pertenece a varias cuentas.",
    },
    "choice": {
        "en": "For {option}, press {key}.",
        "de": "Für {option} drücken Sie die {key}.",
        "fr": "Pour {option}, tapez {key}.",
        "es": "Para {option}, pulse {key}.",
    },
    "ask_account": {
        "en": "We could not recognise your number. Please key in your account number, then press the hash key.",
        "de": "Wir konnten Ihre Nummer nicht zuordnen. Bitte geben Sie Ihre Kundennummer ein und drücken Sie dann "
              "die Raute-Taste.",
        "fr": "Nous n'avons pas reconnu votre numéro. Veuillez saisir votre numéro de client, puis la touche dièse.",
        "es": "No hemos reconocido su número. Marque su número de cliente y después la tecla almohadilla.",
    },
    "account_again": {
        "en": "We could not find that account number. Please key it in again, then press the hash key.",
        "de": "Diese Kundennummer haben wir nicht gefunden. Bitte geben Sie sie erneut ein und drücken Sie dann "
              "die Raute-Taste.",
        "fr": "Nous n'avons pas trouvé ce numéro de client. Veuillez le saisir à nouveau, puis la touche dièse.",
        "es": "No hemos encontrado ese número de cliente. Márquelo de nuevo y después la tecla almohadilla.",
    },
    "to_desk": {
        "en": "We could not find your account. We are connecting you to our accounts team.",
        "de": "Wir konnten Ihr Konto nicht finden. Wir verbinden Sie mit unserer Buchhaltung.",
        "fr": "Nous n'avons pas trouvé votre compte. Nous vous mettons en relation avec notre service comptable.",
        "es": "No hemos encontrado su cuenta. Le pasamos con nuestro equipo de contabilidad.",
    },
    "contact_desk": {
        "en": "Please contact our accounts team: {desk}. Goodbye.",
        "de": "Bitte wenden Sie sich an unsere Buchhaltung: {desk}. Auf Wiederhören.",
        "fr": "Veuillez contacter notre service comptable : {desk}. Au revoir.",
        "es": "Póngase en contacto con nuestro equipo de contabilidad: {desk}. Adiós.",
    },
    "past_due": {
        "en": "The amount past due is {amounts}.",
        "de": "Überfällig sind {amounts}.",
        "fr": "Le montant échu est de {amounts}.",
        "es": "El importe vencido es de {amounts}.",
    },
    "nothing_past_due": {
        "en": "Nothing is past due.",
        "de": "Es ist nichts überfällig.",
        "fr": "Aucun montant n'est échu.",
        "es": "No hay ningún importe vencido.",
    },
    "disputed": {
        "en": "A further {amounts} is under dispute and not included.",
        "de": "Weitere {amounts} sind strittig und nicht enthalten.",
        "fr": "{amounts} supplémentaires sont contestés et non compris.",
        "es": "Otros {amounts} están en disputa y no se incluyen.",
    },
    "last_payment": {
        "en": "Your last payment was {amount}, received on {day}.",
        "de": "Ihre letzte Zahlung über {amount} ist am {day} eingegangen.",
        "fr": "Votre dernier paiement de {amount} a été reçu le {day}.",
        "es": "Su último pago, de {amount}, se recibió el {day}.",
    },
    "no_payment": {
        "en": "We have no payment on record.",
        "de": "Wir haben keine Zahlung verbucht.",
        "fr": "Nous n'avons aucun paiement enregistré.",
        "es": "No tenemos ningún pago registrado.",
    },
    "next_due": {
        "en": "Your next payment is due on {day}: {amounts}.",
        "de": "Ihre nächste Zahlung ist am {day} fällig: {amounts}.",
        "fr": "Votre prochaine échéance est le {day} : {amounts}.",
        "es": "Su próximo pago vence el {day}: {amounts}.",
    },
    "nothing_due": {
        "en": "No further payment is coming due.",
        "de": "Es werden keine weiteren Zahlungen fällig.",
        "fr": "Aucune autre échéance n'est prévue.",
        "es": "No hay más pagos por vencer.",
    },
    "send_sms": {
        "en": "For a pay link by text message, press 1.",
        "de": "Für einen Zahlungslink per SMS drücken Sie die 1.",
        "fr": "Pour un lien de paiement par SMS, tapez 1.",
        "es": "Para un enlace de pago por SMS, pulse 1.",
    },
    "send_email": {
        "en": "For a statement by email, press 2.",
        "de": "Für einen Kontoauszug per E-Mail drücken Sie die 2.",
        "fr": "Pour un relevé par e-mail, tapez 2.",
        "es": "Para un extracto por correo electrónico, pulse 2.",
    },
    "sms_sent": {
        "en": "We have sent a pay link by text message to the number you are calling from.",
        "de": "Wir haben einen Zahlungslink per SMS an die Nummer gesendet, von der Sie anrufen.",
        "fr": "Nous avons envoyé un lien de paiement par SMS au numéro depuis lequel vous appelez.",
        "es": "Hemos enviado un enlace de pago por SMS al número desde el que llama.",
    },
    "sms_opted_out": {
        "en": "Text messages to this number are switched off, so we cannot send one.",
        "de": "SMS an diese Nummer sind abgeschaltet, deshalb können wir keine senden.",
        "fr": "Les SMS vers ce numéro sont désactivés, nous ne pouvons donc pas en envoyer.",
        "es": "Los SMS a este número están desactivados, así que no podemos enviar ninguno.",
    },
    "sms_hours": {
        "en": "We do not send text messages at this hour of your day.",
        "de": "Zu dieser Tageszeit senden wir Ihnen keine SMS.",
        "fr": "Nous n'envoyons pas de SMS à cette heure de votre journée.",
        "es": "No enviamos SMS a esta hora de su día.",
    },
    "sms_failed": {
        "en": "We could not send the text message just now. Please try again later.",
        "de": "Die SMS konnte gerade nicht gesendet werden. Bitte versuchen Sie es später erneut.",
        "fr": "Le SMS n'a pas pu être envoyé pour le moment. Veuillez réessayer plus tard.",
        "es": "No hemos podido enviar el SMS ahora. Inténtelo de nuevo más tarde.",
    },
    "email_sent": {
        "en": "We have emailed your statement to the address we have on file.",
        "de": "Wir haben Ihren Kontoauszug an die hinterlegte E-Mail-Adresse gesendet.",
        "fr": "Nous avons envoyé votre relevé à l'adresse e-mail enregistrée.",
        "es": "Hemos enviado su extracto a la dirección de correo electrónico registrada.",
    },
    "no_email": {
        "en": "We have no email address on file for your account. Please tell your account manager.",
        "de": "Für Ihr Konto ist keine E-Mail-Adresse hinterlegt. Bitte teilen Sie sie Ihrem Ansprechpartner mit.",
        "fr": "Aucune adresse e-mail n'est enregistrée pour votre compte. Veuillez la communiquer à votre "
              "gestionnaire.",
        "es": "No tenemos ninguna dirección de correo electrónico para su cuenta. Comuníquesela a su gestor.",
    },
    "email_failed": {
        "en": "We could not send the email just now. Please try again later.",
        "de": "Die E-Mail konnte gerade nicht gesendet werden. Bitte versuchen Sie es später erneut.",
        "fr": "L'e-mail n'a pas pu être envoyé pour le moment. Veuillez réessayer plus tard.",
        "es": "No hemos podido enviar el correo ahora. Inténtelo de nuevo más tarde.",
    },
    "already_sent": {
        "en": "We have already sent it during this call.",
        "de": "Das haben wir Ihnen in diesem Anruf bereits gesendet.",
        "fr": "Nous l'avons déjà envoyé pendant cet appel.",
        "es": "Ya se lo hemos enviado durante esta llamada.",
    },
    "nothing_open": {
        "en": "There is nothing open on your account.",
        "de": "Auf Ihrem Konto ist nichts offen.",
        "fr": "Rien n'est ouvert sur votre compte.",
        "es": "No hay nada pendiente en su cuenta.",
    },
    "promise_currency": {
        "en": "In which currency will you pay?",
        "de": "In welcher Währung werden Sie zahlen?",
        "fr": "Dans quelle devise allez-vous payer ?",
        "es": "¿En qué moneda va a pagar?",
    },
    "promise_days": {
        "en": "In how many days from today will you pay? Key in the number of days, then press the hash key. "
              "For example, for one week, press 7 and hash.",
        "de": "In wie vielen Tagen ab heute werden Sie zahlen? Geben Sie die Anzahl der Tage ein und drücken Sie "
              "dann die Raute-Taste. Zum Beispiel für eine Woche die 7 und Raute.",
        "fr": "Dans combien de jours à partir d'aujourd'hui allez-vous payer ? Saisissez le nombre de jours, puis "
              "la touche dièse. Par exemple, pour une semaine, tapez 7 puis dièse.",
        "es": "¿Dentro de cuántos días a partir de hoy va a pagar? Marque el número de días y después la tecla "
              "almohadilla. Por ejemplo, para una semana, pulse 7 y almohadilla.",
    },
    "promise_too_far": {
        "en": "Please choose a day within {days} days from today.",
        "de": "Bitte wählen Sie einen Tag innerhalb von {days} Tagen ab heute.",
        "fr": "Veuillez choisir un jour dans les {days} jours à partir d'aujourd'hui.",
        "es": "Elija un día dentro de los próximos {days} días.",
    },
    "promise_readback": {
        "en": "You promise to pay {amount} on {day}. To confirm, press 1. To cancel, press 2.",
        "de": "Sie sagen eine Zahlung von {amount} am {day} zu. Zum Bestätigen drücken Sie die 1. Zum Abbrechen "
              "die 2.",
        "fr": "Vous promettez de payer {amount} le {day}. Pour confirmer, tapez 1. Pour annuler, tapez 2.",
        "es": "Usted promete pagar {amount} el {day}. Para confirmar, pulse 1. Para cancelar, pulse 2.",
    },
    "promise_recorded": {
        "en": "Thank you. Your promise to pay {amount} on {day} is recorded.",
        "de": "Vielen Dank. Ihre Zusage, {amount} am {day} zu zahlen, ist vermerkt.",
        "fr": "Merci. Votre promesse de payer {amount} le {day} est enregistrée.",
        "es": "Gracias. Su promesa de pagar {amount} el {day} ha quedado registrada.",
    },
    "promise_not_recorded": {
        "en": "Your promise was not recorded.",
        "de": "Ihre Zusage wurde nicht vermerkt.",
        "fr": "Votre promesse n'a pas été enregistrée.",
        "es": "Su promesa no se ha registrado.",
    },
    "connecting": {
        "en": "Connecting you to your account manager.",
        "de": "Wir verbinden Sie mit Ihrem Ansprechpartner.",
        "fr": "Nous vous mettons en relation avec votre gestionnaire de compte.",
        "es": "Le pasamos con su gestor de cuenta.",
    },
    "voicemail": {
        "en": "Your account manager is not available now. Please leave a message after the tone, then press the "
              "hash key.",
        "de": "Ihr Ansprechpartner ist gerade nicht erreichbar. Bitte hinterlassen Sie nach dem Signalton eine "
              "Nachricht und drücken Sie dann die Raute-Taste.",
        "fr": "Votre gestionnaire de compte n'est pas disponible. Veuillez laisser un message après le bip, puis "
              "tapez dièse.",
        "es": "Su gestor de cuenta no está disponible ahora. Deje un mensaje después de la señal y pulse la tecla "
              "almohadilla.",
    },
    "voicemail_kept": {
        "en": "Thank you. Your account manager will get your message.",
        "de": "Vielen Dank. Ihr Ansprechpartner erhält Ihre Nachricht.",
        "fr": "Merci. Votre gestionnaire de compte recevra votre message.",
        "es": "Gracias. Su gestor de cuenta recibirá su mensaje.",
    },
    "not_a_choice": {
        "en": "Sorry, that is not one of the choices.",
        "de": "Das ist leider keine der Möglichkeiten.",
        "fr": "Désolé, ce n'est pas l'un des choix proposés.",
        "es": "Lo sentimos, esa no es una de las opciones.",
    },
    "goodbye": {
        "en": "Thank you for calling. Goodbye.",
        "de": "Vielen Dank für Ihren Anruf. Auf Wiederhören.",
        "fr": "Merci de votre appel. Au revoir.",
        "es": "Gracias por su llamada. Adiós.",
    },
    "link_text": {
        "en": "{company}: to pay {amount}, open {link}",
        "de": "{company}: Um {amount} zu zahlen, öffnen Sie {link}",
        "fr": "{company} : pour payer {amount}, ouvrez {link}",
        "es": "{company}: para pagar {amount}, abra {link}",
    },
    "statement_subject": {
        "en": "{company}: your statement of {day}",
        "de": "{company}: Ihr Kontoauszug vom {day}",
        "fr": "{company} : votre relevé du {day}",
        "es": "{company}: su extracto del {day}",
    },
    "statement_text": {
        "en": "As asked on the phone, your statement of account with {company} is attached.",
        "de": "Wie am Telefon gewünscht, finden Sie Ihren Kontoauszug bei {company} im Anhang.",
        "fr": "Comme demandé au téléphone, veuillez trouver ci-joint votre relevé de compte chez {company}.",
        "es": "Tal como pidió por teléfono, adjuntamos su extracto de cuenta con {company}.",
    },
}
