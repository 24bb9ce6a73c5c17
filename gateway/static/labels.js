// French labels of the API's enum values (the API gives rule and event labels itself).

export const KIND = {
  DETENTION: "Sortie de détention",
  MATERNITY: "Sortie de maternité",
  SAS: "Arrivée en SAS",
  PASS_GP: "Relais PASS → médecin traitant",
};

export const SEVERITY = { CRITICAL: "Critique", HIGH: "Élevée", MEDIUM: "Moyenne", LOW: "Faible" };
export const SEVERITY_RANK = { CRITICAL: 4, HIGH: 3, MEDIUM: 2, LOW: 1 };

export const ALERT_STATUS = {
  RAISED: "Nouvelle", ACKNOWLEDGED: "Prise en compte", ESCALATED: "Escaladée", RESOLVED: "Résolue", DISMISSED: "Écartée",
};
export const OPEN_ALERT = new Set(["RAISED", "ACKNOWLEDGED", "ESCALATED"]);

export const DISMISSAL = {
  FALSE_ALARM: "Fausse alerte",
  HANDLED_ELSEWHERE: "Traitée par ailleurs",
  PERSON_REFUSED: "Refus de la personne",
};

export const CATEGORY = { IDENTITY: "identité", SOCIAL: "social", ADMINISTRATIVE: "administratif", MEDICAL: "médical" };

export const PARTICIPANT_ROLE = {
  LEAD: "pilote", HOUSING: "hébergement", HEALTH_CARE: "soins", MENTAL_HEALTH: "santé mentale",
  ADDICTION_CARE: "addictologie", RIGHTS: "accès aux droits", SOCIAL_SUPPORT: "accompagnement social",
  SCREENING: "dépistage", MATERNAL_CHILD: "PMI / périnatalité",
};

export const ROLE = {
  medecin: "Médecin", infirmier: "Infirmier·e", sage_femme: "Sage-femme", puericultrice: "Puéricultrice",
  travailleur_social: "Travailleur·se social·e", assistante_sociale: "Assistant·e de service social",
  coordinateur: "Coordinateur·rice", conseiller: "Conseiller·e accès aux droits",
  conseiller_penitentiaire: "Conseiller·e pénitentiaire (SPIP)", benevole: "Bénévole",
};

export const STATE = { OPEN: "Ouvert", CLOSED: "Clôturé" };

export function label(table, value) { return value == null ? "—" : table[value] ?? String(value).toLowerCase(); }

export const REFERRAL_STATUS = {
  DRAFT: "brouillon", REQUESTED: "demandée", ACCEPTED: "acceptée", REJECTED: "refusée", CANCELLED: "annulée",
  IN_PROGRESS: "en cours", ON_HOLD: "en attente", FAILED: "échouée", COMPLETED: "réalisée",
};

export const APPOINTMENT_STATUS = {
  BOOKED: "prévu", SEEN: "honoré", NO_SHOW: "non honoré", EXCUSED: "excusé", CANCELLED: "annulé",
};

export const PHONE = { VALID: "numéro valide", CHANGED: "numéro changé", LOST: "plus de téléphone" };
