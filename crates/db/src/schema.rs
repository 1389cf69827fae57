// @generated automatically by Diesel CLI.

diesel::table! {
    annees_scolaires (id) {
        id -> Int8,
        nom -> Text,
        date_debut -> Date,
        date_fin -> Date,
        est_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    appreciations (id) {
        id -> Int8,
        eleve_id -> Int8,
        classe_id -> Int8,
        matiere_id -> Int8,
        annee_scolaire_id -> Int8,
        periode -> Text,
        texte -> Text,
        redigee_par -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        user_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        action -> Text,
        table_name -> Text,
        row_id -> Nullable<Int8>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    auth_sessions (id) {
        id -> Uuid,
        user_id -> Int8,
        created_at -> Timestamptz,
        last_used_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    bulletin_lignes (id) {
        id -> Int8,
        bulletin_id -> Int8,
        matiere_id -> Int8,
        coefficient -> Int4,
        moyenne -> Nullable<Numeric>,
        points -> Nullable<Numeric>,
        rang_matiere -> Nullable<Int4>,
        ex_aequo -> Bool,
        moyenne_classe_matiere -> Nullable<Numeric>,
        appreciation -> Text,
        enseignant -> Text,
        moyenne_sur_20 -> Nullable<Numeric>,
    }
}

diesel::table! {
    bulletin_versions (id) {
        id -> Int8,
        bulletin_id -> Int8,
        version -> Int4,
        fichier_pdf -> Nullable<Text>,
        pdf_sha256 -> Nullable<Text>,
        bareme -> Int4,
        moyenne_generale -> Nullable<Numeric>,
        rang -> Nullable<Int4>,
        ex_aequo -> Bool,
        genere_le -> Nullable<Timestamptz>,
        remplace_le -> Timestamptz,
    }
}

diesel::table! {
    bulletins (id) {
        id -> Int8,
        eleve_id -> Int8,
        classe_id -> Int8,
        annee_scolaire_id -> Int8,
        periode -> Text,
        moyenne_generale -> Nullable<Numeric>,
        rang -> Nullable<Int4>,
        ex_aequo -> Bool,
        effectif -> Int4,
        moyenne_classe -> Nullable<Numeric>,
        moyenne_max -> Nullable<Numeric>,
        moyenne_min -> Nullable<Numeric>,
        mention -> Nullable<Text>,
        tableau_honneur -> Bool,
        absences -> Int4,
        retards -> Int4,
        statut -> Text,
        fichier_pdf -> Nullable<Text>,
        genere_le -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        bareme -> Int4,
        moyenne_generale_sur_20 -> Nullable<Numeric>,
        a_recalculer -> Bool,
        version -> Int4,
        pdf_sha256 -> Nullable<Text>,
        moyenne_annuelle -> Nullable<Numeric>,
        decision_annuelle -> Nullable<Text>,
        absences_justifiees -> Int4,
        conseil_appreciation -> Text,
        conseil_distinction -> Nullable<Text>,
        conseil_decision -> Nullable<Text>,
    }
}

diesel::table! {
    classes (id) {
        id -> Int8,
        niveau -> Text,
        serie -> Nullable<Text>,
        nom -> Text,
        annee_scolaire_id -> Int8,
        professeur_principal_id -> Nullable<Int8>,
        capacite -> Int4,
        bareme -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    compteurs_numeros (prefixe, annee) {
        prefixe -> Text,
        annee -> Int4,
        dernier -> Int8,
    }
}

diesel::table! {
    conseils_classe (id) {
        id -> Int8,
        eleve_id -> Int8,
        annee_scolaire_id -> Int8,
        periode -> Text,
        appreciation -> Text,
        distinction -> Nullable<Text>,
        decision -> Nullable<Text>,
        saisi_par -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    eleve_parents (id) {
        id -> Int8,
        eleve_id -> Int8,
        parent_id -> Int8,
        lien -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    eleves (id) {
        id -> Int8,
        user_id -> Int8,
        matricule -> Text,
        classe_actuelle_id -> Nullable<Int8>,
        date_naissance -> Nullable<Date>,
        lieu_naissance -> Text,
        sexe -> Text,
        adresse -> Text,
        contact_urgence_nom -> Text,
        contact_urgence_phone -> Text,
        contact_urgence_relation -> Text,
        date_admission -> Date,
        statut -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    emprunts (id) {
        id -> Int8,
        exemplaire_id -> Int8,
        emprunteur_id -> Int8,
        date_emprunt -> Date,
        date_retour_prevue -> Date,
        date_retour -> Nullable<Date>,
        statut -> Text,
        etat_retour -> Nullable<Text>,
        penalite -> Int8,
        enregistre_par -> Nullable<Int8>,
        dernier_rappel_le -> Nullable<Date>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    enseignants (id) {
        id -> Int8,
        user_id -> Int8,
        matricule -> Text,
        specialite -> Text,
        date_embauche -> Nullable<Date>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    enseignements (id) {
        id -> Int8,
        classe_id -> Int8,
        matiere_id -> Int8,
        enseignant_id -> Nullable<Int8>,
        coefficient -> Nullable<Int4>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        annee_scolaire_id -> Int8,
    }
}

diesel::table! {
    etablissement (id) {
        id -> Int8,
        nom -> Text,
        adresse -> Text,
        telephone -> Text,
        email -> Text,
        devise -> Text,
        directeur -> Text,
        ville -> Text,
        logo -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    exemplaires (id) {
        id -> Int8,
        livre_id -> Int8,
        code_barre -> Text,
        etat -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    factures (id) {
        id -> Int8,
        numero -> Nullable<Text>,
        eleve_id -> Int8,
        annee_scolaire_id -> Int8,
        date_emission -> Nullable<Date>,
        date_echeance -> Date,
        montant_total -> Int8,
        montant_paye -> Int8,
        statut -> Text,
        fichier_pdf -> Nullable<Text>,
        dernier_rappel_le -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    frais_scolarite (id) {
        id -> Int8,
        annee_scolaire_id -> Int8,
        niveau -> Text,
        libelle -> Text,
        montant -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    historique_classes (id) {
        id -> Int8,
        eleve_id -> Int8,
        classe_id -> Int8,
        du -> Date,
        au -> Nullable<Date>,
    }
}

diesel::table! {
    instance (singleton) {
        singleton -> Bool,
        id -> Uuid,
        restored_from -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Int8,
        name -> Text,
        payload -> Jsonb,
        dedupe_key -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_after -> Timestamptz,
        timeout_seconds -> Int4,
        soft_timeout_seconds -> Int4,
        progress_done -> Int4,
        progress_total -> Nullable<Int4>,
        result -> Nullable<Jsonb>,
        error -> Nullable<Text>,
        requested_by -> Nullable<Int8>,
        dispatch_count -> Int4,
        run_token -> Nullable<Uuid>,
        worker -> Nullable<Text>,
        heartbeat_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        dispatched_at -> Nullable<Timestamptz>,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        task_token -> Uuid,
    }
}

diesel::table! {
    lignes_facture (id) {
        id -> Int8,
        facture_id -> Int8,
        frais_id -> Nullable<Int8>,
        libelle -> Text,
        quantite -> Int4,
        prix_unitaire -> Int8,
        montant -> Int8,
    }
}

diesel::table! {
    livres (id) {
        id -> Int8,
        isbn -> Nullable<Text>,
        titre -> Text,
        auteur -> Text,
        editeur -> Text,
        annee_publication -> Nullable<Int4>,
        categorie -> Text,
        cote -> Text,
        recherche -> Text,
        titre_tri -> Text,
        exemplaires_total -> Int4,
        exemplaires_disponibles -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        username -> Text,
        ip -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    matieres (id) {
        id -> Int8,
        code -> Text,
        nom -> Text,
        coefficient -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notes (id) {
        id -> Int8,
        eleve_id -> Int8,
        matiere_id -> Int8,
        classe_id -> Int8,
        annee_scolaire_id -> Int8,
        periode -> Text,
        type_note -> Text,
        valeur -> Numeric,
        sur -> Numeric,
        date_evaluation -> Date,
        commentaire -> Text,
        saisie_par -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Int8,
        utilisateur_id -> Int8,
        type_notification -> Text,
        titre -> Text,
        message -> Text,
        lien_url -> Nullable<Text>,
        lue -> Bool,
        lue_le -> Nullable<Timestamptz>,
        envoyer_par_email -> Bool,
        envoyer_par_sms -> Bool,
        email_envoye -> Bool,
        email_envoye_le -> Nullable<Timestamptz>,
        email_statut -> Text,
        email_tente_le -> Nullable<Timestamptz>,
        email_message_id -> Nullable<Text>,
        sms_envoye -> Bool,
        sms_envoye_le -> Nullable<Timestamptz>,
        sms_statut -> Text,
        sms_tente_le -> Nullable<Timestamptz>,
        sms_message_id -> Nullable<Text>,
        sms_texte -> Nullable<Text>,
        derniere_erreur -> Nullable<Text>,
        cle -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    paiements (id) {
        id -> Int8,
        facture_id -> Int8,
        montant -> Int8,
        mode -> Text,
        reference -> Text,
        date_paiement -> Date,
        recu_numero -> Text,
        enregistre_par -> Int8,
        idempotency_key -> Nullable<Text>,
        fichier_pdf -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    parents (id) {
        id -> Int8,
        user_id -> Int8,
        profession -> Text,
        adresse -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    periodes (id) {
        id -> Int8,
        annee_scolaire_id -> Int8,
        code -> Text,
        date_debut -> Date,
        date_fin -> Date,
        bulletins_generes_le -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    presences (id) {
        id -> Int8,
        eleve_id -> Int8,
        classe_id -> Int8,
        date -> Date,
        statut -> Text,
        motif -> Text,
        notification_envoyee -> Bool,
        saisie_par -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    process_heartbeats (name) {
        name -> Text,
        kind -> Text,
        started_at -> Timestamptz,
        seen_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Int8,
        session_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    regles_bulletin (id) {
        id -> Int8,
        poids_cours -> Int4,
        poids_composition -> Int4,
        seuil_excellent -> Numeric,
        seuil_tres_bien -> Numeric,
        seuil_bien -> Numeric,
        seuil_assez_bien -> Numeric,
        seuil_passable -> Numeric,
        seuil_insuffisant -> Numeric,
        seuil_tableau_honneur -> Numeric,
        seuil_admission -> Numeric,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    requetes_idempotentes (cle) {
        cle -> Text,
        utilisateur_id -> Int8,
        empreinte -> Text,
        statut_reponse -> Nullable<Int4>,
        corps_reponse -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    telephone_confirmations (id) {
        id -> Int8,
        user_id -> Int8,
        telephone -> Text,
        code_hash -> Nullable<Bytea>,
        envoye_le -> Nullable<Timestamptz>,
        expire_le -> Nullable<Timestamptz>,
        essais -> Int4,
        confirme_le -> Nullable<Timestamptz>,
        erreur -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        first_name -> Text,
        last_name -> Text,
        role -> Text,
        telephone -> Nullable<Text>,
        is_active -> Bool,
        last_login -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(appreciations -> annees_scolaires (annee_scolaire_id));
diesel::joinable!(appreciations -> classes (classe_id));
diesel::joinable!(appreciations -> eleves (eleve_id));
diesel::joinable!(appreciations -> matieres (matiere_id));
diesel::joinable!(appreciations -> users (redigee_par));
diesel::joinable!(auth_sessions -> users (user_id));
diesel::joinable!(bulletin_lignes -> bulletins (bulletin_id));
diesel::joinable!(bulletin_lignes -> matieres (matiere_id));
diesel::joinable!(bulletin_versions -> bulletins (bulletin_id));
diesel::joinable!(bulletins -> annees_scolaires (annee_scolaire_id));
diesel::joinable!(bulletins -> classes (classe_id));
diesel::joinable!(bulletins -> eleves (eleve_id));
diesel::joinable!(classes -> annees_scolaires (annee_scolaire_id));
diesel::joinable!(classes -> enseignants (professeur_principal_id));
diesel::joinable!(conseils_classe -> annees_scolaires (annee_scolaire_id));
diesel::joinable!(conseils_classe -> eleves (eleve_id));
diesel::joinable!(conseils_classe -> users (saisi_par));
diesel::joinable!(eleve_parents -> eleves (eleve_id));
diesel::joinable!(eleve_parents -> parents (parent_id));
diesel::joinable!(eleves -> classes (classe_actuelle_id));
diesel::joinable!(eleves -> users (user_id));
diesel::joinable!(emprunts -> exemplaires (exemplaire_id));
diesel::joinable!(enseignants -> users (user_id));
diesel::joinable!(enseignements -> annees_scolaires (annee_scolaire_id));
diesel::joinable!(enseignements -> classes (classe_id));
diesel::joinable!(enseignements -> enseignants (enseignant_id));
diesel::joinable!(enseignements -> matieres (matiere_id));
diesel::joinable!(exemplaires -> livres (livre_id));
diesel::joinable!(factures -> annees_scolaires (annee_scolaire_id));
diesel::joinable!(factures -> eleves (eleve_id));
diesel::joinable!(frais_scolarite -> annees_scolaires (annee_scolaire_id));
diesel::joinable!(historique_classes -> classes (classe_id));
diesel::joinable!(historique_classes -> eleves (eleve_id));
diesel::joinable!(jobs -> users (requested_by));
diesel::joinable!(lignes_facture -> factures (facture_id));
diesel::joinable!(lignes_facture -> frais_scolarite (frais_id));
diesel::joinable!(notes -> annees_scolaires (annee_scolaire_id));
diesel::joinable!(notes -> classes (classe_id));
diesel::joinable!(notes -> eleves (eleve_id));
diesel::joinable!(notes -> matieres (matiere_id));
diesel::joinable!(notes -> users (saisie_par));
diesel::joinable!(notifications -> users (utilisateur_id));
diesel::joinable!(paiements -> factures (facture_id));
diesel::joinable!(paiements -> users (enregistre_par));
diesel::joinable!(parents -> users (user_id));
diesel::joinable!(periodes -> annees_scolaires (annee_scolaire_id));
diesel::joinable!(presences -> classes (classe_id));
diesel::joinable!(presences -> eleves (eleve_id));
diesel::joinable!(presences -> users (saisie_par));
diesel::joinable!(refresh_tokens -> auth_sessions (session_id));
diesel::joinable!(requetes_idempotentes -> users (utilisateur_id));
diesel::joinable!(telephone_confirmations -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    annees_scolaires,
    appreciations,
    audit_log,
    auth_sessions,
    bulletin_lignes,
    bulletin_versions,
    bulletins,
    classes,
    compteurs_numeros,
    conseils_classe,
    eleve_parents,
    eleves,
    emprunts,
    enseignants,
    enseignements,
    etablissement,
    exemplaires,
    factures,
    frais_scolarite,
    historique_classes,
    instance,
    jobs,
    lignes_facture,
    livres,
    login_failures,
    matieres,
    notes,
    notifications,
    paiements,
    parents,
    periodes,
    presences,
    process_heartbeats,
    refresh_tokens,
    regles_bulletin,
    requetes_idempotentes,
    telephone_confirmations,
    users,
);
