"""The descriptions of the schema's types, fields and arguments that their definitions do not
give: one glossary (French, for partner developers), applied once when the schema is built.

A definition's own description wins; otherwise `Type.field` (or `Type.field(argument)`), then
the name alone (`pathwayId`, `(first)`), which means the same on every type that has it. An enum
value is described by the domain's French label of its code where the domain has one
(DOMAIN_VALUE_LABELS), by VALUES otherwise. A type, field, argument or enum value left without a
description fails tests/unit/gateway/test_schema_descriptions.py,
which lists them: add them here (or on the definition) and regenerate the SDL
(`python -m gateway.published`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from graphql import (
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
)

from domain import disclosure
from gateway.permissions import Reason

#: Built-in scalars, described by the GraphQL specification itself.
_BUILT_IN = frozenset({"String", "Int", "Float", "Boolean", "ID"})

TYPES: dict[str, str] = {
    "Query": "Lectures : parcours, file active, alertes, le professionnel authentifié, journal d'audit, indicateurs.",
    "Mutation": "Commandes : chacune enregistre un fait du parcours ; la réponse est CommandAccepted ou "
                "CommandRefused (champ en cause, motif en français, code).",
    "Subscription": "Flux en direct (websocket, protocole graphql-transport-ws).",
    "UUID": "Identifiant UUID (texte, ex. 6f1c0a52-3f0e-4d8e-9a57-0c2b7e4d9a10).",
    "PathwayConnection": "Une page de parcours (pagination par curseur).",
    "PathwayEdge": "Un parcours de la page et son curseur.",
    "AlertEdge": "Une alerte de la page et son curseur.",
    "TimelineConnection": "Une page de la chronologie (pagination par position).",
    "PageInfo": "Où en est la pagination.",
    "AuditConnection": "Une page du journal d'audit.",
    "CommandOutcome": "La réponse à une commande : acceptée ou refusée.",
    "ClosureOutcome": "Issue de la clôture d'un parcours.",
    "Membership": "Comment votre structure prend part au parcours.",
    "NeedCategory": "Catégorie d'un besoin (elle décide de la catégorie d'information).",
    "NeedStatus": "Statut d'un besoin.",
    "ReferralOutcome": "Issue d'une orientation : honorée ou non.",
    "AppointmentStatus": "Statut d'un rendez-vous.",
    "CoverageScheme": "Régime de droits santé (PUMa, CSS, AME, soins urgents).",
    "CoverageStatus": "Statut des droits santé.",
    "HousingStatus": "Statut d'une demande d'hébergement.",
    "PhoneStatus": "Joignabilité par téléphone.",
    "AlertSeverity": "Gravité d'une alerte.",
    "AlertStatus": "Statut d'une alerte : ouverte (RAISED, ACKNOWLEDGED, ESCALATED) ou close (RESOLVED, DISMISSED).",
    "RedactionReason": "Pourquoi une information est masquée.",
    "AdministrativeStatus": "Situation administrative de la personne.",
    "DismissalReason": "Motif de classement sans suite d'une alerte.",
    "GpVisitOutcome": "Issue d'une orientation vers un médecin de ville.",
    "NotWentReason": "Pourquoi la personne n'est pas allée chez le médecin orienté.",
    "TreatmentKind": "Type de traitement à poursuivre.",
    "DirectoryOutcome": "La réponse à une commande de l'annuaire : acceptée ou refusée.",
    "ReferralQuotaInput": "Un quota d'orientations : nombre de places par période.",
    "ReportServiceSaturationInput": "Déclarer le niveau de saturation d'un service (propriétaire seulement).",
    "BacktestOutcome": "La réponse à un back-test : ses chiffres, ou les réglages refusés.",
    "BacktestRuleSet": "Un jeu de règles (en vigueur ou candidat) et ses chiffres par règle.",
    "TerritorySettingsChange": "La réponse à un changement de réglages : la nouvelle version, ou les réglages refusés.",
}

FIELDS: dict[str, str] = {
    # -- ids and envelope
    "commandId": "Identifiant de la commande, choisi par le client : renvoyer la même commande avec le même "
                 "identifiant ne l'enregistre qu'une fois.",
    "pathwayId": "Identifiant du parcours.",
    # -- the directory of services (HSDS 3.0 / data·inclusion names)
    "collectedBy": "Le professionnel (identifiant) qui a recueilli le choix de la personne.",
    "informedBy": "Comment la personne a été informée (liste fermée : oral, notice écrite, oral avec interprète, représentant légal).",
    "serviceId": "Identifiant du service de l'annuaire.",
    "organization": "La structure qui porte le service (HSDS organization).",
    "codeInsee": "Code INSEE de la commune du lieu d'accueil.",
    "zoneEligibilite": "Communes (codes INSEE) d'où le service accepte des personnes (data·inclusion zone_eligibilite) ; vide : toutes.",
    "publics": "Publics accueillis (data·inclusion publics).",
    "statutsAdministratifs": "Situations administratives acceptées (demandeur d'asile, sans titre de séjour…).",
    "conditionsAcces": "Conditions d'accès (data·inclusion conditions_acces).",
    "modesMobilisation": "Comment mobiliser le service (data·inclusion modes_mobilisation : téléphone, courriel, se présenter…).",
    "telephone": "Téléphone de contact du service.",
    "courriel": "Courriel de contact du service.",
    "updateFrequencyDays": "Tous les combien de jours la fiche doit être confirmée ; au-delà elle est signalée à son propriétaire et classée plus bas.",
    "acceptingNewPatients": "Le service accepte-t-il de nouvelles personnes en ce moment.",
    "acceptsInterpreting": "Interprétariat accepté (professionnel sur place ou par téléphone).",
    "horairesAccueil": "Horaires d'accueil au format OpenStreetMap opening_hours (data·inclusion horaires_accueil).",
    "stopReason": "Pourquoi le service n'accepte plus de nouvelles personnes.",
    "quota": "Quota d'orientations par période (null : sans quota).",
    "saturation": "Niveau de saturation déclaré (faible, modérée, forte, comme Soliguide).",
    "dateMaj": "Date de dernière mise à jour de la fiche (data·inclusion date_maj).",
    "details": "La description du service (champs de l'annuaire).",
    "places": "Nombre d'orientations admises par période.",
    "period": "La période du quota.",
    "accepting": "Seulement les services qui acceptent de nouvelles personnes.",
    "owner": "Seulement les services de cette structure.",
    "criterion": "Le critère examiné (accueil ouvert, commune, quota, langue, horaires, fraîcheur).",
    "met": "Le critère est-il rempli.",
    "blocking": "Un critère non rempli qui exclut le service (sinon il le classe seulement plus bas).",
    "text": "L'explication, en français.",
    "score": "Rang de pertinence (plus haut : meilleur).",
    "reasons": "Pourquoi le service convient ou non, critère par critère.",
    "expiresAt": "Fin de validité du lien.",
    "id": "Identifiant.",
    "alertId": "Identifiant de l'alerte.",
    "needId": "Identifiant du besoin.",
    "referralId": "Identifiant de l'orientation.",
    "appointmentId": "Identifiant du rendez-vous.",
    "requestId": "Identifiant de la demande d'hébergement.",
    "conferenceId": "Identifiant de la synthèse.",
    "actionId": "Identifiant de l'action.",
    "treatmentId": "Identifiant du traitement.",
    "orientationId": "Identifiant de l'orientation vers un médecin de ville.",
    "refusalId": "Identifiant du refus de soins.",
    "relatedId": "Le rendez-vous ou l'orientation que la personne refuse.",
    "version": "Version du parcours (nombre d'événements enregistrés).",
    "PathwayVersion.version": "La version à attendre (celle qu'une mutation a renvoyée).",
    "CommandAccepted.version": "Version du parcours après la commande (à passer en atLeast pour la relire).",
    "newEvents": "Nombre d'événements enregistrés par cette commande (0 pour une commande déjà reçue).",
    "duplicate": "Vrai si cette commande avait déjà été reçue : la réponse est celle d'alors, rien n'est réécrit.",
    "code": "Code du refus (docs/graphql/errors.md).",
    "field": "Le champ en cause, en camelCase (null si c'est la commande entière).",
    "CommandRefused.reason": "Le motif du refus, en français.",
    "Redaction.field": "Le champ masqué (chemin camelCase).",
    "Redaction.category": "Sa catégorie d'information.",
    "Redaction.reason": "Pourquoi il est masqué (rôle, consentement...).",
    "message": "L'explication, en français.",
    # -- who and where
    "agency": "Code de la structure.",
    "professional": "Identifiant du professionnel (celui du jeton).",
    "role": "Code du rôle du professionnel (celui du jeton : medecin, coordinateur...).",
    "Me.role": "Votre rôle (voir roleCode pour le code que porte le jeton).",
    "Participant.role": "Rôle de la structure dans le parcours.",
    "AddAgencyInput.role": "Rôle de la structure ajoutée dans le parcours.",
    "Participant.inCareTeam": "Vrai si la structure fait partie de l'équipe de soins.",
    "leadAgency": "Structure référente du parcours.",
    "ownerAgency": "Structure qui porte (alerte, action).",
    "toAgency": "Structure destinataire.",
    "withAgency": "Structure qui reçoit la personne.",
    "viaAgency": "Structure qui porte la demande.",
    "pmiAgency": "Structure de PMI.",
    "agencies": "Structures présentes.",
    "territory": "Territoire (code de département, ex. 76).",
    "Me.categoriesNeeded": "Catégories d'information dont votre rôle a besoin (et qu'il peut donc écrire).",
    "personRef": "Référence pseudonyme de la personne dans votre système (jamais son nom) [identité].",
    # -- the pathway
    "Pathway.id": "Identifiant du parcours.",
    "kind": "Type de parcours.",
    "RecordTreatmentToContinueInput.kind": "Type de traitement.",
    "state": "Ouvert ou clos.",
    "openedAt": "Ouverture du parcours.",
    "lastActivityAt": "Dernier événement du parcours.",
    "access": "Ce que votre structure et votre rôle voient de ce parcours.",
    "participants": "Structures participant au parcours.",
    "needs": "Besoins identifiés.",
    "referrals": "Orientations (boucle fermée).",
    "appointments": "Rendez-vous.",
    "coverage": "Droits santé.",
    "housingRequests": "Demandes d'hébergement.",
    "contact": "Joignabilité de la personne.",
    "caseConferences": "Synthèses.",
    "actions": "Actions décidées en synthèse.",
    "alerts": "Alertes de risque de rupture, ouvertes et closes.",
    "facts": "Faits propres au type de parcours.",
    "redactions": "Champs masqués de cet objet, et pourquoi.",
    "membership": "Comment votre structure prend part au parcours.",
    "visibleCategories": "Catégories que vous voyez.",
    "hiddenCategories": "Catégories masquées pour vous.",
    "categories": "Catégories d'information.",
    "infoCategory": "Catégorie d'information de cet objet (elle décide de ce qui en est montré).",
    "category": "Catégorie.",
    "Need.category": "Catégorie du besoin [catégorie du besoin].",
    "RecordNeedInput.category": "Catégorie du besoin.",
    "description": "Description en texte libre.",
    "status": "Statut.",
    "statusReason": "Motif du statut.",
    "statusChangedAt": "Dernier changement de statut (null tant qu'il n'a pas changé).",
    "reason": "Motif, en français.",
    "detail": "Précision, en texte libre.",
    "MonthlyIndicator.detail": "Déclinaison de l'indicateur (règle, issue...).",
    "outcome": "Issue.",
    "AuditEvent.outcome": "Résultat de l'accès (FHIR AuditEvent : 0 succès, 4 refusé).",
    "outcomeReason": "Motif de l'issue.",
    "outcomeAt": "Date de l'issue.",
    # -- needs, referrals, appointments
    "recordedAt": "Quand le fait a été enregistré dans Relais.",
    "recordedBy": "Structure qui l'a enregistré.",
    "metAt": "Quand le besoin a été couvert.",
    "madeAt": "Quand l'orientation a été faite.",
    "madeBy": "Structure qui a orienté.",
    "service": "Service concerné.",
    "scheduledAt": "Date et heure du rendez-vous.",
    "interpreterNeeded": "Un interprète est-il nécessaire ?",
    "interpreterBooked": "Un interprète est-il réservé ?",
    "language": "Langue (code ou nom).",
    "languages": "Langues parlées par la personne.",
    "provider": "Service d'interprétariat.",
    "care": "Le soin refusé.",
    "proposedBy": "Structure qui proposait le soin.",
    # -- coverage, housing, contact
    "scheme": "Régime de droits.",
    "appliedOn": "Date de la demande.",
    "openedOn": "Date d'ouverture des droits.",
    "expiresOn": "Date de fin des droits.",
    "renewalFiledOn": "Date du dépôt du renouvellement.",
    "filedOn": "Date du dépôt.",
    "neededFrom": "À partir de quand.",
    "place": "Lieu proposé.",
    "availableOn": "Disponible à partir du.",
    "declineReason": "Motif du refus.",
    "phone": "Statut du téléphone.",
    "failedAttempts": "Tentatives de contact sans réponse d'affilée.",
    "lastAttemptAt": "Dernière tentative de contact.",
    "lastReachedAt": "Dernière fois que la personne a été jointe.",
    "channel": "Canal de la tentative (téléphone, SMS...).",
    "reached": "La personne a-t-elle été jointe ?",
    # -- conferences, actions
    "heldAt": "Date de la synthèse.",
    "decisions": "Décisions prises [sociale].",
    "dueOn": "Échéance.",
    "done": "Réalisée ?",
    "doneAt": "Quand elle a été réalisée.",
    # -- facts and kind-specific inputs
    "name": "Nom (identifiant stable).",
    "label": "Libellé en français.",
    "value": "Valeur.",
    "releaseDate": "Date de libération prévue.",
    "releasedOn": "Date de libération effective.",
    "prison": "Établissement pénitentiaire.",
    "dischargeDate": "Date de sortie de maternité prévue.",
    "dischargedOn": "Date de sortie effective.",
    "maternityWard": "Maternité.",
    "bornOn": "Date de naissance du nouveau-né.",
    "newbornRef": "Référence pseudonyme du nouveau-né.",
    "firstVisitOn": "Date de la première visite de PMI.",
    "arrivedOn": "Date d'arrivée au SAS.",
    "fromHighTbEndemicity": "Vient d'un pays de forte endémie tuberculeuse.",
    "screenedOn": "Date du dépistage.",
    "followUpNeeded": "Un suivi est-il nécessaire ?",
    "assessedOn": "Date de l'évaluation.",
    "decidedOn": "Date de la décision.",
    "destination": "Où va la personne.",
    "leftOn": "Date de sortie du SAS.",
    "prescribedBy": "Prescripteur.",
    "gpRef": "Référence du médecin de ville.",
    "gpCommune": "Commune du médecin.",
    "commune": "Commune où chercher.",
    "acceptsPhoneInterpreting": "Le médecin accepte-t-il l'interprétariat par téléphone ?",
    "needsPhoneInterpreting": "La personne a-t-elle besoin d'interprétariat par téléphone ?",
    # -- alerts
    "ruleId": "Identifiant de la règle de risque de rupture (ex. housing-not-confirmed).",
    "ruleLabel": "Titre de la règle, en français.",
    "severity": "Gravité.",
    "raisedAt": "Quand l'alerte a été déclenchée.",
    "subject": "Ce sur quoi porte l'alerte (ex. need:<id>) [catégorie de la règle].",
    "suggestedAction": "Action suggérée, en français [catégorie de la règle].",
    "escalatedTo": "Structure à qui l'alerte a été escaladée.",
    "escalationReason": "Motif de l'escalade [catégorie de la règle].",
    "resolutionReason": "Motif de la résolution ou du classement [catégorie de la règle].",
    "triggeringEventIds": "Identifiants des événements qui déclenchent l'alerte.",
    "AlertChange.alert": "L'alerte telle que vous pouvez la voir, après ce changement.",
    "AlertChange.change": "Ce qui a changé (déclenchée, prise en compte, escaladée, résolue...).",
    "AlertChange.occurredAt": "Quand le changement a eu lieu.",
    # -- timeline
    "TimelineEntry.position": "Position dans la chronologie (la version du parcours) ; sert de curseur.",
    "TimelineEntry.type": "Type d'événement (ex. NeedRecorded) [catégorie de l'événement].",
    "TimelineEntry.label": "Libellé en français [catégorie de l'événement].",
    "occurredAt": "Quand le fait a eu lieu sur le terrain.",
    "TimelineEntry.agency": "Structure qui l'a enregistré.",
    # -- pagination
    "edges": "Les éléments de la page, avec leur curseur.",
    "node": "L'élément.",
    "nodes": "Les éléments de la page.",
    "cursor": "Curseur à passer en « after » pour lire la suite.",
    "pageInfo": "Où en est la pagination.",
    "hasNextPage": "Vrai si d'autres éléments suivent.",
    "endCursor": "Curseur du dernier élément (à passer en « after »).",
    "totalCount": "Nombre total d'éléments.",
    "entries": "Les entrées de la page.",
    "events": "Les traces de la page.",
    # -- filters
    "hasOpenAlert": "Parcours avec (vrai) ou sans (faux) alerte ouverte.",
    "AuditFilter.agency": "Structure qui a accédé.",
    "AuditFilter.professional": "Professionnel qui a accédé.",
    "AuditFilter.pathwayId": "Parcours consulté.",
    "since": "À partir de cet instant.",
    "until": "Jusqu'à cet instant.",
    # -- audit
    "AuditEvent.id": "Identifiant de la trace.",
    "recorded": "Quand l'accès a eu lieu.",
    "action": "Nature de l'accès (FHIR AuditEvent : R lecture, E exécution).",
    "operation": "L'opération GraphQL (pathway, alerts, mutation.xxx...).",
    "purpose": "Finalité déclarée (X-Relais-Purpose).",
    "AuditEvent.categories": "Catégories d'information effectivement renvoyées.",
    "AuditEvent.pathwayId": "Parcours consulté (null pour une liste sans parcours).",
    # -- webhooks
    "url": "Adresse HTTPS publique qui reçoit les alertes.",
    "secret": "Secret de signature (Standard Webhooks, whsec_...) : montré une seule fois.",
    # -- indicators
    "computedAt": "Quand les indicateurs ont été calculés.",
    "smallCountThreshold": "Seuil sous lequel un effectif est masqué (secret statistique).",
    "openPathways": "Parcours ouverts.",
    "closedPathways": "Parcours clos.",
    "pathwaysByKind": "Parcours par type.",
    "closedByOutcome": "Parcours clos par issue.",
    "openAlerts": "Alertes ouvertes.",
    "openAlertsByRule": "Alertes ouvertes par règle.",
    "alertsRaisedByRule": "Alertes déclenchées par règle.",
    "orientations": "Orientations.",
    "monthly": "Indicateurs par mois.",
    "month": "Mois (AAAA-MM).",
    "indicator": "Nom de l'indicateur.",
    "medianDays": "Délai médian, en jours.",
    "suppressed": "Vrai si l'effectif, trop petit, est masqué.",
    "key": "Ce qui est compté.",
    "count": "Effectif (null s'il est masqué).",
    "HandOverLeadInput.formerLeadRole": "Le rôle que garde dans le parcours la structure qui cède la référence.",
    "PersonErased.legalBasis": "Le fondement de l'effacement (RGPD art. 17, liste fermée).",
    "PersonErased.legalBasisLabel": "Ce fondement, en français.",
    "BacktestRule.alertsPerWeek": "Alertes levées par semaine en moyenne sur la période rejouée.",
    "BacktestRuleSet.rules": "Les chiffres par règle (une ligne « toutes règles » comprise).",
    "RulesBacktest.source": "Ce qui a été rejoué : l'historique du territoire ou un territoire synthétique.",
    "RulesBacktest.pathways": "Nombre de parcours rejoués.",
    "RulesBacktest.weeks": "Durée de la période rejouée, en semaines.",
    "RulesBacktest.seconds": "Durée de calcul du back-test, en secondes.",
    "RulesBacktest.ruleSets": "Le jeu de règles en vigueur et le jeu candidat, côte à côte.",
    "TerritorySettingsRefused.refusals": "Chaque réglage refusé, avec son motif.",
    "TerritorySettingsVersion.changedBy": "Le professionnel qui a enregistré cette version (null : valeurs par défaut).",
    "TerritorySettingsVersion.changedByAgency": "Sa structure.",
    "TerritorySettingsVersion.changedAt": "Quand cette version a été enregistrée.",
}

ARGUMENTS: dict[str, str] = {
    "(input)": "La commande (voir la description de son type d'entrée).",
    "(first)": "Taille de la page (1 à 50).",
    "(after)": "Curseur : lire ce qui suit (le endCursor de la page précédente).",
    "(filter)": "Filtres (tous facultatifs).",
    "(atLeast)": "Attendre que les vues de lecture aient pris en compte cette version de ce parcours "
                 "(celle qu'une mutation a renvoyée).",
    "(atLeastVersion)": "Attendre que les vues de lecture aient pris en compte cette version du parcours.",
    "(id)": "Identifiant.",
    "(asOf)": "Montrer le parcours tel qu'il était connu à cette date (passée).",
    "(territory)": "Territoire (code de département).",
    "(pathwayId)": "Seulement ce parcours.",
    "(onlyOwned)": "Seulement les alertes que votre structure porte ou qui lui ont été escaladées.",
    "alertChanges(after)": "Reprendre après ce curseur (celui du dernier changement reçu) : rien n'est perdu "
                           "entre deux connexions ; sans lui, les changements à partir de maintenant.",
    "timeline(after)": "Position : lire les entrées qui suivent.",
    "(url)": "Adresse HTTPS publique.",
    "Mutation.changeTerritorySettings(settings)": "Les réglages à changer (objet JSON : seuls les champs donnés changent).",
    "Mutation.changeTerritorySettings(expectedVersion)": "La version sur laquelle porte le changement (refus si une autre a été enregistrée entre-temps).",
    "Mutation.referralLink(referralId)": "L'orientation du parcours pour laquelle émettre le lien.",
    "Query.matchServices(kind)": "Le type de service cherché (médecin généraliste, CSAPA, CMP, interprétariat…).",
    "Query.matchServices(commune)": "Commune de la personne (par défaut : celle du parcours).",
    "Query.matchServices(languages)": "Langues de la personne (par défaut : celles du parcours).",
    "Mutation.erasePerson(personRef)": "La référence pseudonyme de la personne (tous ses parcours sont effacés).",
    "Mutation.erasePerson(legalBasis)": "Le fondement de l'effacement, dans la liste fermée (RGPD art. 17).",
    "Query.rulesBacktest(settings)": "Le jeu de règles candidat (objet JSON de réglages, comme pour changeTerritorySettings).",
    "Query.rulesBacktest(synthetic)": "Rejouer un territoire synthétique de ce nombre de parcours (au plus 2 000) plutôt que l'historique.",
    "Query.rulesBacktest(from)": "Début de la période rejouée (date incluse).",
    "Query.rulesBacktest(to)": "Fin de la période rejouée (date incluse).",
}


#: Enums whose values the domain already labels in French (domain.disclosure, the timeline's and
#: the alert texts' labels): a value's description is that label, never a second copy of it.
DOMAIN_VALUE_LABELS: dict[str, Mapping[str, str]] = {
    "ReferralStatus": disclosure.REFERRAL_STATUS_LABELS,
    "ReferralOutcome": disclosure.REFERRAL_OUTCOME_LABELS,
    "ClosureOutcome": disclosure.CLOSURE_OUTCOME_LABELS,
    "AlertSeverity": disclosure.SEVERITY_LABELS,
    "DismissalReason": disclosure.DISMISSAL_REASON_LABELS,
    "ErasureBasis": disclosure.ERASURE_BASIS_LABELS,
    "RedactionReason": {reason.value: reason.message for reason in Reason},
}

#: The other enum values (`Enum.VALUE`), for the enums the domain gives no French label.
VALUES: dict[str, str] = {
    "AdministrativeStatus.REGULAR": "En situation régulière.",
    "AdministrativeStatus.ASYLUM_SEEKER": "Demandeur ou demandeuse d'asile.",
    "AdministrativeStatus.REFUGEE": "Réfugié(e) ou protection subsidiaire.",
    "AdministrativeStatus.UNDOCUMENTED": "Sans titre de séjour.",
    "AdministrativeStatus.UNKNOWN": "Situation inconnue.",
    "AlertChangeKind.RAISED": "L'alerte a été déclenchée.",
    "AlertChangeKind.ACKNOWLEDGED": "L'alerte a été prise en compte.",
    "AlertChangeKind.ESCALATED": "L'alerte a été escaladée à une autre structure.",
    "AlertChangeKind.RESOLVED": "L'alerte a été résolue.",
    "AlertChangeKind.UPDATED": "L'alerte a été mise à jour (nouveaux faits, même règle).",
    "AlertChangeKind.DISMISSED": "L'alerte a été classée sans suite.",
    "AlertStatus.RAISED": "Déclenchée, pas encore prise en compte (ouverte).",
    "AlertStatus.ACKNOWLEDGED": "Prise en compte par une structure (ouverte).",
    "AlertStatus.ESCALATED": "Escaladée à une autre structure (ouverte).",
    "AlertStatus.RESOLVED": "Résolue (close).",
    "AlertStatus.DISMISSED": "Classée sans suite (close).",
    "AppointmentStatus.BOOKED": "Rendez-vous pris.",
    "AppointmentStatus.SEEN": "La personne a été reçue.",
    "AppointmentStatus.NO_SHOW": "La personne ne s'est pas présentée.",
    "AppointmentStatus.EXCUSED": "Absence excusée.",
    "AppointmentStatus.CANCELLED": "Rendez-vous annulé.",
    "ConsentInformation.ORAL": "Informée oralement.",
    "ConsentInformation.WRITTEN_NOTICE": "Informée par une notice écrite.",
    "ConsentInformation.ORAL_WITH_INTERPRETER": "Informée oralement avec un interprète.",
    "ConsentInformation.LEGAL_REPRESENTATIVE": "Son représentant légal a été informé.",
    "CoverageScheme.PUMA": "Protection universelle maladie (PUMa).",
    "CoverageScheme.CSS": "Complémentaire santé solidaire (CSS).",
    "CoverageScheme.AME": "Aide médicale de l'État (AME).",
    "CoverageScheme.URGENT_CARE": "Dispositif soins urgents et vitaux.",
    "CoverageStatus.APPLIED": "Demande déposée.",
    "CoverageStatus.OPEN": "Droits ouverts.",
    "CoverageStatus.ENDED": "Droits échus.",
    "GpVisitOutcome.WENT": "La personne est allée chez le médecin.",
    "GpVisitOutcome.DID_NOT_GO": "La personne n'y est pas allée (voir le motif).",
    "HousingStatus.REQUESTED": "Demande déposée.",
    "HousingStatus.OFFERED": "Une place est proposée.",
    "HousingStatus.CONFIRMED": "Hébergement confirmé.",
    "HousingStatus.DECLINED": "Proposition refusée.",
    "InformationCategory.IDENTITY": "Identité.",
    "InformationCategory.SOCIAL": "Information sociale.",
    "InformationCategory.ADMINISTRATIVE": "Information administrative.",
    "InformationCategory.MEDICAL": "Information médicale.",
    "MatchCriterion.ACCEPTING": "Le service accepte de nouvelles personnes.",
    "MatchCriterion.COMMUNE": "La commune de la personne est dans la zone du service.",
    "MatchCriterion.QUOTA": "Il reste des places dans le quota de la période.",
    "MatchCriterion.LANGUAGE": "Une langue de la personne est parlée, ou l'interprétariat accepté.",
    "MatchCriterion.ADMINISTRATIVE": "La situation administrative de la personne est acceptée.",
    "MatchCriterion.OPENING_HOURS": "Le service a des horaires d'accueil.",
    "MatchCriterion.FRESHNESS": "La fiche a été confirmée récemment.",
    "MatchCriterion.SATURATION": "Le niveau de saturation déclaré.",
    "Membership.NOT_PARTICIPATING": "Votre structure ne participe pas au parcours.",
    "Membership.CARE_TEAM": "Votre structure fait partie de l'équipe de soins.",
    "Membership.OUTSIDE_CARE_TEAM": "Votre structure participe, hors de l'équipe de soins.",
    "NeedCategory.HOUSING": "Hébergement.",
    "NeedCategory.HEALTH_COVERAGE": "Droits santé.",
    "NeedCategory.CARE": "Soins.",
    "NeedCategory.INTERPRETING": "Interprétariat.",
    "NeedCategory.ADDICTION": "Addictions.",
    "NeedCategory.MENTAL_HEALTH": "Santé mentale.",
    "NeedCategory.SCREENING": "Dépistage.",
    "NeedCategory.MATERNAL_CHILD": "Santé de la mère et de l'enfant.",
    "NeedCategory.ADMINISTRATIVE": "Démarches administratives.",
    "NeedCategory.OTHER": "Autre besoin.",
    "NeedStatus.OPEN": "Besoin à couvrir.",
    "NeedStatus.MET": "Besoin couvert.",
    "NotWentReason.PHONE_CHANGED": "Téléphone changé : la personne n'a pas pu être jointe.",
    "NotWentReason.ADDRESS_NOT_FOUND": "Adresse du cabinet introuvable.",
    "NotWentReason.GP_NOT_TAKING_PATIENTS": "Le médecin ne prend plus de nouveaux patients.",
    "NotWentReason.NO_INTERPRETER": "Pas d'interprète.",
    "NotWentReason.SCHEDULE_UNSUITABLE": "Horaires incompatibles.",
    "NotWentReason.FOUND_CLOSER_GP": "La personne a trouvé un médecin plus proche.",
    "NotWentReason.AFRAID_PAPER_CERTIFICATE": "Crainte liée aux papiers ou au certificat demandé.",
    "NotWentReason.TRANSPORT_STRIKE": "Grève des transports.",
    "NotWentReason.CHANGED_MIND": "La personne a changé d'avis.",
    "NotWentReason.OTHER": "Autre motif.",
    "ParticipantRole.LEAD": "Structure référente.",
    "ParticipantRole.HOUSING": "Hébergement.",
    "ParticipantRole.HEALTH_CARE": "Soins.",
    "ParticipantRole.MENTAL_HEALTH": "Santé mentale.",
    "ParticipantRole.ADDICTION_CARE": "Addictologie.",
    "ParticipantRole.RIGHTS": "Accès aux droits.",
    "ParticipantRole.SOCIAL_SUPPORT": "Accompagnement social.",
    "ParticipantRole.SCREENING": "Dépistage.",
    "ParticipantRole.MATERNAL_CHILD": "Protection maternelle et infantile.",
    "ParticipantRole.JUSTICE": "Justice (SPIP, établissement pénitentiaire).",
    "ParticipantRole.COORDINATION": "Coordination du parcours.",
    "ParticipantRole.OTHER": "Autre rôle.",
    "PathwayKind.DETENTION": "Sortie de détention.",
    "PathwayKind.MATERNITY": "Sortie de maternité (mère et nouveau-né, PMI).",
    "PathwayKind.SAS": "Sas d'accueil temporaire (SAS) pour personnes migrantes.",
    "PathwayKind.PASS_GP": "Relais de la PASS vers un médecin de ville.",
    "PathwayState.OPEN": "Parcours ouvert.",
    "PathwayState.CLOSED": "Parcours clos.",
    "PhoneStatus.VALID": "Numéro valide.",
    "PhoneStatus.CHANGED": "Numéro changé.",
    "PhoneStatus.LOST": "Téléphone perdu ou plus de numéro.",
    "QuotaPeriod.WEEK": "Par semaine.",
    "QuotaPeriod.MONTH": "Par mois.",
    "Saturation.LOW": "Saturation faible.",
    "Saturation.MODERATE": "Saturation modérée.",
    "Saturation.HIGH": "Saturation forte.",
    "ServiceKind.MG": "Médecin généraliste.",
    "ServiceKind.PASS": "Permanence d'accès aux soins de santé (PASS).",
    "ServiceKind.CSAPA": "Centre de soins, d'accompagnement et de prévention en addictologie (CSAPA).",
    "ServiceKind.CAARUD": "Centre d'accueil et d'accompagnement à la réduction des risques pour usagers de drogues (CAARUD).",
    "ServiceKind.CMP": "Centre médico-psychologique (CMP).",
    "ServiceKind.CLAT": "Centre de lutte antituberculeuse (CLAT).",
    "ServiceKind.CEGIDD": "Centre gratuit d'information, de dépistage et de diagnostic (CeGIDD).",
    "ServiceKind.PMI": "Protection maternelle et infantile (PMI).",
    "ServiceKind.SIAO": "Service intégré d'accueil et d'orientation (SIAO).",
    "ServiceKind.LHSS": "Lits halte soins santé (LHSS).",
    "ServiceKind.CADA": "Centre d'accueil de demandeurs d'asile (CADA).",
    "ServiceKind.INTERPRETARIAT": "Service d'interprétariat.",
    "ServiceKind.AUTRE": "Autre service.",
    "TreatmentKind.SUBSTITUTION": "Traitement de substitution aux opiacés.",
    "TreatmentKind.PSYCHIATRIC": "Traitement psychiatrique.",
    "TreatmentKind.INFECTIOUS": "Traitement d'une maladie infectieuse (VIH, hépatite, tuberculose).",
    "TreatmentKind.CHRONIC": "Traitement d'une maladie chronique.",
    "TreatmentKind.OTHER": "Autre traitement.",
}


def _value_description(enum_name: str, name: str, value: object) -> str | None:
    """A value's description: the domain's French label of its code, else the glossary's."""
    label = DOMAIN_VALUE_LABELS.get(enum_name, {}).get(str(value))
    if label is None:
        return VALUES.get(f"{enum_name}.{name}")
    return label if label.endswith(".") else f"{label[0].upper()}{label[1:]}."


def _enum_values(schema: GraphQLSchema) -> Iterator[tuple[str, str, GraphQLEnumValue]]:
    """(enum name, value name, value) of every value of every enum of the schema."""
    for type_name, named in sorted(schema.type_map.items()):
        if isinstance(named, GraphQLEnumType) and not type_name.startswith("__"):
            for name, definition in named.values.items():
                yield type_name, name, definition


def _members(schema: GraphQLSchema) -> Iterator[tuple[str, str, str, GraphQLNamedType, object]]:
    """(kind, type name, name, type, described object) of every type, field and argument."""
    for type_name, named in sorted(schema.type_map.items()):
        if type_name.startswith("__") or type_name in _BUILT_IN:
            continue
        yield "type", type_name, type_name, named, named
        if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for field_name, field in named.fields.items():
                yield "field", type_name, field_name, named, field
                for arg_name, arg in (getattr(field, "args", None) or {}).items():
                    yield "argument", type_name, f"{field_name}({arg_name})", named, arg


def _glossary(kind: str, type_name: str, name: str) -> str | None:
    if kind == "type":
        return TYPES.get(name)
    if kind == "field":
        return FIELDS.get(f"{type_name}.{name}") or FIELDS.get(name)
    argument = name.partition("(")[2]
    return ARGUMENTS.get(f"{type_name}.{name}") or ARGUMENTS.get(name) or ARGUMENTS.get(f"({argument}")


def describe(schema: GraphQLSchema) -> None:
    """Fill every description the definitions left empty from the glossary."""
    for kind, type_name, name, _named, described in _members(schema):
        if not getattr(described, "description", None):
            text = _glossary(kind, type_name, name)
            if text:
                described.description = text  # type: ignore[attr-defined]
    for enum_name, name, definition in _enum_values(schema):
        if not definition.description:
            definition.description = _value_description(enum_name, name, definition.value)


def undescribed(schema: GraphQLSchema) -> list[str]:
    """Every type, field, argument and enum value still without a description."""
    out = [f"{type_name}.{name}" if kind != "type" else name
           for kind, type_name, name, _named, described in _members(schema)
           if not (getattr(described, "description", None) or "").strip()]
    out += [f"{enum_name}.{name}" for enum_name, name, definition in _enum_values(schema)
            if not (definition.description or "").strip()]
    return out
