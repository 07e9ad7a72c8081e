-- 0001_schema.sql — LearnFlow core schema (database "learnflow", schema "public").
--
-- Applied by the kit's migration runner exactly once, inside a transaction
-- (so: no BEGIN/COMMIT and no CREATE INDEX CONCURRENTLY in here), and it must
-- also be harmless if applied again: every statement is IF NOT EXISTS /
-- OR REPLACE, and nothing here deletes or rewrites rows.
--
-- Conventions
--   * Primary keys: bigint GENERATED ALWAYS AS IDENTITY, column "id".
--   * Foreign keys: "<table>_id"; every FK column is the leading column of an
--     index (the kit's test checks this).
--   * Enumerations are text + CHECK (easier to extend than enum types).
--   * Every table has created_at / updated_at timestamptz; updated_at is kept
--     current by the trigger function public.set_updated_at().
--   * Syntax limited to PostgreSQL 15 (runs on 15 and 17).

CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA public;

-- ---------------------------------------------------------------------------
-- updated_at maintenance
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION public.set_updated_at() IS
    'BEFORE UPDATE trigger function: sets updated_at to now().';

-- ---------------------------------------------------------------------------
-- users: every login (students, teachers, admins)
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text        NOT NULL,
    password_hash  text        NOT NULL,
    display_name   text        NOT NULL,
    role           text        NOT NULL DEFAULT 'student',
    is_active      boolean     NOT NULL DEFAULT true,
    last_login_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lowercase_chk CHECK (email = lower(btrim(email))),
    CONSTRAINT users_email_format_chk
        CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
    -- Only hashes in modular-crypt / PHC form ("$<scheme>$..."), e.g. bcrypt
    -- "$2b$12$...", "$argon2id$...", never a plaintext password.
    CONSTRAINT users_password_hash_format_chk
        CHECK (password_hash ~ '^\$[a-z0-9-]+\$' AND length(password_hash) >= 50),
    CONSTRAINT users_display_name_chk CHECK (btrim(display_name) <> ''),
    CONSTRAINT users_role_chk CHECK (role IN ('student', 'teacher', 'admin'))
);

COMMENT ON TABLE public.users IS
    'Every login of the platform (students, teachers, admins): e-mail (lower-case, unique), password hash (bcrypt $2b$, never plaintext), role.';
COMMENT ON COLUMN public.users.password_hash IS
    'Password hash in modular-crypt format; dev seeds use bcrypt ($2b$12$...).';

-- ---------------------------------------------------------------------------
-- students: learner profile, one per student user
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.students (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    skill_level   text        NOT NULL DEFAULT 'beginner',
    learning_goal text,
    enrolled_at   timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT students_user_id_key UNIQUE (user_id),
    CONSTRAINT students_skill_level_chk
        CHECK (skill_level IN ('beginner', 'intermediate', 'advanced'))
);

COMMENT ON TABLE public.students IS
    'Learner profile (one per student user): skill level and goal; owner of submissions, progress, chat history and struggle alerts.';

-- ---------------------------------------------------------------------------
-- teachers: teacher profile, one per teacher user
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.teachers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    bio         text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT teachers_user_id_key UNIQUE (user_id)
);

COMMENT ON TABLE public.teachers IS
    'Teacher profile (one per teacher user); teachers review struggle alerts and resolve them.';

-- ---------------------------------------------------------------------------
-- topics: the Python curriculum, in teaching order
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.topics (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position     integer     NOT NULL,
    slug         text        NOT NULL,
    title        text        NOT NULL,
    description  text        NOT NULL,
    difficulty   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT topics_position_key UNIQUE (position),
    CONSTRAINT topics_slug_key UNIQUE (slug),
    CONSTRAINT topics_position_chk CHECK (position > 0),
    CONSTRAINT topics_slug_format_chk CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT topics_title_chk CHECK (btrim(title) <> ''),
    CONSTRAINT topics_difficulty_chk
        CHECK (difficulty IN ('beginner', 'intermediate', 'advanced'))
);

COMMENT ON TABLE public.topics IS
    'Python curriculum topics in teaching order (position, unique) with a stable slug (unique), title, description and difficulty.';

-- ---------------------------------------------------------------------------
-- exercises: coding exercises, each belonging to a topic
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.exercises (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic_id       bigint      NOT NULL REFERENCES public.topics (id) ON DELETE RESTRICT,
    slug           text        NOT NULL,
    title          text        NOT NULL,
    prompt         text        NOT NULL,
    starter_code   text        NOT NULL DEFAULT '',
    solution_code  text,
    test_code      text,
    difficulty     text        NOT NULL DEFAULT 'beginner',
    max_score      integer     NOT NULL DEFAULT 100,
    is_published   boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT exercises_slug_key UNIQUE (slug),
    CONSTRAINT exercises_slug_format_chk CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT exercises_title_chk CHECK (btrim(title) <> ''),
    CONSTRAINT exercises_difficulty_chk
        CHECK (difficulty IN ('beginner', 'intermediate', 'advanced')),
    CONSTRAINT exercises_max_score_chk CHECK (max_score BETWEEN 1 AND 1000)
);

CREATE INDEX IF NOT EXISTS exercises_topic_id_idx ON public.exercises (topic_id);

COMMENT ON TABLE public.exercises IS
    'Coding exercises of a topic: prompt, starter code, optional reference solution and tests run by the code sandbox.';

-- ---------------------------------------------------------------------------
-- submissions: a student's code for an exercise, and its evaluation
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.submissions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id    bigint      NOT NULL REFERENCES public.students (id) ON DELETE CASCADE,
    exercise_id   bigint      NOT NULL REFERENCES public.exercises (id) ON DELETE RESTRICT,
    code          text        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending',
    score         numeric(5,2),
    feedback      text,
    stdout        text,
    stderr        text,
    execution_ms  integer,
    evaluated_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT submissions_status_chk
        CHECK (status IN ('pending', 'running', 'passed', 'failed', 'error', 'timeout')),
    CONSTRAINT submissions_score_chk CHECK (score IS NULL OR score BETWEEN 0 AND 100),
    CONSTRAINT submissions_execution_ms_chk CHECK (execution_ms IS NULL OR execution_ms >= 0)
);

CREATE INDEX IF NOT EXISTS submissions_student_id_idx  ON public.submissions (student_id);
CREATE INDEX IF NOT EXISTS submissions_exercise_id_idx ON public.submissions (exercise_id);

COMMENT ON TABLE public.submissions IS
    'A student''s code submitted for an exercise, with sandbox status, score (0..100) and review feedback.';

-- ---------------------------------------------------------------------------
-- progress: mastery per student and topic
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.progress (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id           bigint       NOT NULL REFERENCES public.students (id) ON DELETE CASCADE,
    topic_id             bigint       NOT NULL REFERENCES public.topics (id) ON DELETE RESTRICT,
    status               text         NOT NULL DEFAULT 'not_started',
    mastery              numeric(5,2) NOT NULL DEFAULT 0,
    exercises_completed  integer      NOT NULL DEFAULT 0,
    last_activity_at     timestamptz,
    created_at           timestamptz  NOT NULL DEFAULT now(),
    updated_at           timestamptz  NOT NULL DEFAULT now(),
    -- also serves as the index for the student_id foreign key (leading column)
    CONSTRAINT progress_student_topic_key UNIQUE (student_id, topic_id),
    CONSTRAINT progress_status_chk
        CHECK (status IN ('not_started', 'in_progress', 'struggling', 'mastered')),
    CONSTRAINT progress_mastery_chk CHECK (mastery BETWEEN 0 AND 100),
    CONSTRAINT progress_exercises_completed_chk CHECK (exercises_completed >= 0)
);

CREATE INDEX IF NOT EXISTS progress_topic_id_idx ON public.progress (topic_id);

COMMENT ON TABLE public.progress IS
    'Per-student, per-topic learning state: status and mastery 0..100 (one row per student and topic).';

-- ---------------------------------------------------------------------------
-- chat_history: messages between a student and the tutor agents
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.chat_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id  bigint      NOT NULL REFERENCES public.students (id) ON DELETE CASCADE,
    topic_id    bigint      REFERENCES public.topics (id) ON DELETE SET NULL,
    session_id  uuid        NOT NULL,
    role        text        NOT NULL,
    agent       text,
    content     text        NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chat_history_role_chk
        CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    CONSTRAINT chat_history_agent_chk
        CHECK (agent IS NULL OR agent IN ('triage', 'concepts', 'debug', 'exercise', 'review', 'progress')),
    CONSTRAINT chat_history_metadata_chk CHECK (jsonb_typeof(metadata) = 'object')
);

-- (student_id, created_at) serves the student_id FK and "latest messages" reads
CREATE INDEX IF NOT EXISTS chat_history_student_id_created_at_idx
    ON public.chat_history (student_id, created_at);
CREATE INDEX IF NOT EXISTS chat_history_topic_id_idx
    ON public.chat_history (topic_id);
CREATE INDEX IF NOT EXISTS chat_history_session_id_idx
    ON public.chat_history (session_id, created_at);

COMMENT ON TABLE public.chat_history IS
    'Conversation log between a student and the AI tutor agents (triage, concepts, debug, exercise, review, progress), grouped by session_id, optionally tied to a topic.';

-- ---------------------------------------------------------------------------
-- struggle_alerts: raised when a student is stuck, handled by a teacher
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.struggle_alerts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id       bigint      NOT NULL REFERENCES public.students (id) ON DELETE CASCADE,
    topic_id         bigint      REFERENCES public.topics (id) ON DELETE SET NULL,
    reason           text        NOT NULL,
    severity         text        NOT NULL DEFAULT 'medium',
    status           text        NOT NULL DEFAULT 'open',
    details          text,
    resolved_by      bigint      REFERENCES public.teachers (id) ON DELETE SET NULL,
    resolved_at      timestamptz,
    resolution_note  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT struggle_alerts_reason_chk
        CHECK (reason IN ('repeated_errors', 'repeated_failures', 'low_score',
                          'stuck_on_exercise', 'inactivity', 'help_requested', 'other')),
    CONSTRAINT struggle_alerts_severity_chk
        CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    CONSTRAINT struggle_alerts_status_chk
        CHECK (status IN ('open', 'acknowledged', 'resolved', 'dismissed')),
    -- closed alerts carry a resolution time, open ones do not
    CONSTRAINT struggle_alerts_resolved_at_chk
        CHECK ((status IN ('resolved', 'dismissed')) = (resolved_at IS NOT NULL))
);

CREATE INDEX IF NOT EXISTS struggle_alerts_student_id_idx  ON public.struggle_alerts (student_id);
CREATE INDEX IF NOT EXISTS struggle_alerts_topic_id_idx    ON public.struggle_alerts (topic_id);
CREATE INDEX IF NOT EXISTS struggle_alerts_resolved_by_idx ON public.struggle_alerts (resolved_by);
-- teacher dashboard: alerts still needing attention, newest first
CREATE INDEX IF NOT EXISTS struggle_alerts_unresolved_idx
    ON public.struggle_alerts (created_at)
    WHERE status IN ('open', 'acknowledged');

COMMENT ON TABLE public.struggle_alerts IS
    'Alerts that a student is struggling (optionally on a topic), raised by the agents; a teacher acknowledges and resolves them (resolved_by).';

-- ---------------------------------------------------------------------------
-- updated_at triggers (CREATE OR REPLACE TRIGGER: PostgreSQL 14+)
-- ---------------------------------------------------------------------------
CREATE OR REPLACE TRIGGER users_set_updated_at
    BEFORE UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER students_set_updated_at
    BEFORE UPDATE ON public.students
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER teachers_set_updated_at
    BEFORE UPDATE ON public.teachers
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER topics_set_updated_at
    BEFORE UPDATE ON public.topics
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER exercises_set_updated_at
    BEFORE UPDATE ON public.exercises
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER submissions_set_updated_at
    BEFORE UPDATE ON public.submissions
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER progress_set_updated_at
    BEFORE UPDATE ON public.progress
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER chat_history_set_updated_at
    BEFORE UPDATE ON public.chat_history
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER struggle_alerts_set_updated_at
    BEFORE UPDATE ON public.struggle_alerts
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
