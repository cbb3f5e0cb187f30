-- 0012: the measure catalogue is data. measure_definition (0003) becomes the one source of the
-- measures a visit may record: the twelve the domain used to write on every start, now with a
-- Korean display, plus what a cell or gene therapy's long-term follow-up is about (FDA LTFU
-- guidance 2020, CIBMTR cellular therapy forms). An administrator adds more with
-- `registry measure add` or POST /measures; no code change. And screening visits: a visit before
-- the dose, within the screening window (VisitRules.screeningWindowDays, 90 days), that gives the
-- outcome report its baseline.

-- display_ko: the display in Korean, for the people who read it. answers: for a coded measure,
-- what each stored value means, as [{"value": 1, "code": "CR", "display": "...", "display_ko":
-- "..."}]; a visit records the value (an integer within minimum..maximum), entered as the value
-- or its code (disease-response=CR). An empty array: a plain number.
ALTER TABLE measure_definition
    ADD COLUMN display_ko text,
    ADD COLUMN answers    jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(answers) = 'array'
               AND NOT jsonb_path_exists(answers, '$[*] ? (!exists(@.value) || !exists(@.code) || !exists(@.display) || !exists(@.display_ko))')),
    ADD CONSTRAINT measure_definition_key_shape CHECK (key ~ '^[a-z][a-z0-9-]{1,39}$'),
    ADD CONSTRAINT measure_definition_range CHECK (minimum <= maximum),
    ADD CONSTRAINT measure_definition_coded_integer CHECK (answers = '[]' OR is_integer);

INSERT INTO measure_definition (key, code_system, code, display, display_ko, unit, minimum, maximum, is_integer, answers) VALUES
    -- Performance, quality of life and disease scores used across indications.
    ('ecog', 'LOINC', '89247-1', 'ECOG performance status', 'ECOG 전신 수행 상태', NULL, 0, 5, true, '[]'),
    ('karnofsky', 'LOINC', '89243-0', 'Karnofsky performance status', '카르노프스키 수행 상태', NULL, 0, 100, true, '[]'),
    ('eq5d-index', 'registry', 'EQ5D5L-INDEX-KR', 'EQ-5D-5L index (Korean value set)', 'EQ-5D-5L 지수 (한국 가치 세트)', NULL, -0.594, 1, false, '[]'),
    ('eq-vas', 'registry', 'EQ-VAS', 'EQ visual analogue scale', 'EQ 시각 아날로그 척도', NULL, 0, 100, true, '[]'),
    ('pain-nrs', 'LOINC', '72514-3', 'Pain severity 0-10 numeric rating', '통증 강도 (0-10 숫자 평가 척도)', NULL, 0, 10, true, '[]'),
    ('womac', 'registry', 'WOMAC-TOTAL', 'WOMAC total score', 'WOMAC 총점', NULL, 0, 96, true, '[]'),
    ('alsfrs-r', 'registry', 'ALSFRS-R', 'ALS functional rating scale, revised', '개정 근위축성 측삭 경화증 기능 평가 척도 (ALSFRS-R)', NULL, 0, 48, true, '[]'),
    ('updrs-iii', 'registry', 'MDS-UPDRS-III', 'MDS-UPDRS part III', 'MDS-UPDRS 제3부 (운동 검사)', NULL, 0, 132, true, '[]'),
    -- Blood counts the FDA's long-term follow-up guidance watches.
    ('hemoglobin', 'LOINC', '718-7', 'Hemoglobin', '혈색소', 'g/dL', 1, 25, false, '[]'),
    ('wbc', 'LOINC', '6690-2', 'Leukocytes', '백혈구 수', '10*3/uL', 0, 500, false, '[]'),
    ('platelets', 'LOINC', '777-3', 'Platelets', '혈소판 수', '10*3/uL', 0, 2000, false, '[]'),
    ('weight', 'LOINC', '29463-7', 'Body weight', '체중', 'kg', 0.5, 400, false, '[]'),

    -- Disease response. LOINC 88040-1 "Response to cancer treatment" (mCODE's code for it).
    ('disease-response', 'LOINC', '88040-1', 'Disease response', '질병 반응', NULL, 1, 4, true,
     '[{"value": 1, "code": "CR", "display": "Complete response", "display_ko": "완전 반응"},
       {"value": 2, "code": "PR", "display": "Partial response", "display_ko": "부분 반응"},
       {"value": 3, "code": "SD", "display": "Stable disease", "display_ko": "안정 병변"},
       {"value": 4, "code": "PD", "display": "Progressive disease", "display_ko": "진행 병변"}]'),
    -- Cytokine release syndrome and neurotoxicity, graded by the ASTCT consensus (Lee et al.,
    -- 2019); no LOINC code exists. A death from either is a grade 5 adverse event, not a grade here.
    ('crs-grade', 'registry', 'ASTCT-CRS-GRADE', 'Cytokine release syndrome grade (ASTCT consensus)', '사이토카인 방출 증후군 등급 (ASTCT 합의 기준)', NULL, 0, 4, true,
     '[{"value": 0, "code": "none", "display": "No CRS", "display_ko": "사이토카인 방출 증후군 없음"},
       {"value": 1, "code": "grade-1", "display": "Grade 1: fever of 38 °C or more", "display_ko": "1등급: 38 °C 이상 발열"},
       {"value": 2, "code": "grade-2", "display": "Grade 2: fever with hypotension not needing vasopressors, or hypoxia needing low-flow oxygen", "display_ko": "2등급: 승압제가 필요 없는 저혈압 또는 저유량 산소가 필요한 저산소증을 동반한 발열"},
       {"value": 3, "code": "grade-3", "display": "Grade 3: hypotension needing one vasopressor, or hypoxia needing high-flow oxygen", "display_ko": "3등급: 승압제 1종이 필요한 저혈압 또는 고유량 산소가 필요한 저산소증"},
       {"value": 4, "code": "grade-4", "display": "Grade 4: hypotension needing several vasopressors, or hypoxia needing positive pressure", "display_ko": "4등급: 여러 승압제가 필요한 저혈압 또는 양압 환기가 필요한 저산소증"}]'),
    ('icans-grade', 'registry', 'ASTCT-ICANS-GRADE', 'Immune effector cell-associated neurotoxicity syndrome grade (ASTCT consensus)', '면역 효과 세포 연관 신경독성 증후군(ICANS) 등급 (ASTCT 합의 기준)', NULL, 0, 4, true,
     '[{"value": 0, "code": "none", "display": "No ICANS", "display_ko": "ICANS 없음"},
       {"value": 1, "code": "grade-1", "display": "Grade 1: ICE score 7-9, wakes spontaneously", "display_ko": "1등급: ICE 점수 7-9, 자발적으로 깨어남"},
       {"value": 2, "code": "grade-2", "display": "Grade 2: ICE score 3-6, wakes to voice", "display_ko": "2등급: ICE 점수 3-6, 목소리에 깨어남"},
       {"value": 3, "code": "grade-3", "display": "Grade 3: ICE score 0-2, wakes only to touch, a seizure that resolves quickly, or focal oedema", "display_ko": "3등급: ICE 점수 0-2, 촉각 자극에만 깨어남, 빠르게 회복되는 경련 또는 국소 부종"},
       {"value": 4, "code": "grade-4", "display": "Grade 4: unrousable, life-threatening seizure, diffuse cerebral oedema or motor weakness", "display_ko": "4등급: 깨울 수 없음, 생명을 위협하는 경련, 미만성 뇌부종 또는 운동 약화"}]'),
    ('ice-score', 'registry', 'ICE-SCORE', 'Immune effector cell encephalopathy (ICE) score', '면역 효과 세포 뇌병증(ICE) 점수', NULL, 0, 10, true, '[]'),
    -- On-target B-cell depletion after CD19-directed products, and what it leaves: low IgG,
    -- prolonged cytopenias.
    ('b-cell-aplasia', 'registry', 'B-CELL-APLASIA', 'B-cell aplasia', 'B세포 무형성', NULL, 0, 1, true,
     '[{"value": 0, "code": "no", "display": "No: B cells present", "display_ko": "아니오: B세포 있음"},
       {"value": 1, "code": "yes", "display": "Yes: B-cell aplasia", "display_ko": "예: B세포 무형성"}]'),
    ('cd19-b-cells', 'LOINC', '8116-6', 'CD19 B cells in blood', '혈중 CD19 B세포 수', 'cells/uL', 0, 10000, false, '[]'),
    ('igg', 'LOINC', '2465-3', 'IgG in serum or plasma', '혈청 면역글로불린 G (IgG)', 'mg/dL', 0, 10000, false, '[]'),
    ('anc', 'LOINC', '751-8', 'Absolute neutrophil count', '절대 호중구 수', '10*3/uL', 0, 100, false, '[]'),
    -- Vector persistence: copies per cell (transduced haematopoietic cells) and per microgram of
    -- genomic DNA (CAR transgene by qPCR); no LOINC code exists for either.
    ('vcn', 'registry', 'VCN-PER-CELL', 'Vector copy number in blood (copies per cell)', '혈액 내 벡터 복제 수 (세포당)', 'copies/cell', 0, 20, false, '[]'),
    ('vector-dna', 'registry', 'VECTOR-DNA', 'Vector transgene in blood (copies per microgram of DNA)', '혈액 내 벡터 유전자 (DNA 1마이크로그램당 복제 수)', 'copies/ug', 0, 10000000, false, '[]'),
    -- Replication-competent retrovirus (gammaretroviral vectors) or lentivirus (lentiviral vectors).
    ('rcr-test', 'registry', 'RCR-TEST', 'Replication-competent retrovirus test', '복제 가능 레트로바이러스 검사', NULL, 0, 1, true,
     '[{"value": 0, "code": "negative", "display": "Negative", "display_ko": "음성"},
       {"value": 1, "code": "positive", "display": "Positive", "display_ko": "양성"}]'),
    ('rcl-test', 'registry', 'RCL-TEST', 'Replication-competent lentivirus test', '복제 가능 렌티바이러스 검사', NULL, 0, 1, true,
     '[{"value": 0, "code": "negative", "display": "Negative", "display_ko": "음성"},
       {"value": 1, "code": "positive", "display": "Positive", "display_ko": "양성"}]'),
    -- Insertional oncogenesis: integration-site analysis.
    ('clonal-expansion', 'registry', 'CLONAL-EXPANSION', 'Clonal expansion or insertion-site finding', '클론 확장 또는 삽입 부위 소견', NULL, 0, 2, true,
     '[{"value": 0, "code": "polyclonal", "display": "Polyclonal: no clonal expansion", "display_ko": "다클론성: 클론 확장 없음"},
       {"value": 1, "code": "expansion", "display": "Clonal expansion, insertion not near a known oncogene", "display_ko": "클론 확장, 알려진 종양유전자 근처 삽입 없음"},
       {"value": 2, "code": "oncogene", "display": "Clonal expansion with an insertion in or near a known oncogene", "display_ko": "알려진 종양유전자 내부 또는 근처 삽입을 동반한 클론 확장"}]'),
    ('dominant-clone', 'registry', 'DOMINANT-CLONE-PCT', 'Largest clone, share of vector insertion sites', '최대 클론 비율 (벡터 삽입 부위 중)', '%', 0, 100, false, '[]'),
    -- A new malignancy's work-up: was the tumour tested for the vector (FDA boxed warning, 2024)?
    ('malignancy-vector', 'registry', 'MALIGNANCY-VECTOR', 'New malignancy: tumour tissue tested for the vector', '신규 악성 종양: 종양 조직의 벡터 검사', NULL, 0, 2, true,
     '[{"value": 0, "code": "negative", "display": "Tested: vector not detected", "display_ko": "검사함: 벡터 검출 안 됨"},
       {"value": 1, "code": "positive", "display": "Tested: vector detected", "display_ko": "검사함: 벡터 검출됨"},
       {"value": 2, "code": "not-tested", "display": "Not tested", "display_ko": "검사 안 함"}]')
-- The twelve may already be there (written by earlier builds on every start): they gain their Korean display.
ON CONFLICT (key) DO UPDATE SET display_ko = EXCLUDED.display_ko;

-- A measure added to the table by hand before this migration has no Korean display yet: it keeps
-- its English one there until an administrator corrects it, rather than failing the migration.
UPDATE measure_definition SET display_ko = display WHERE display_ko IS NULL;
ALTER TABLE measure_definition
    ALTER COLUMN display_ko SET NOT NULL,
    ADD CONSTRAINT measure_definition_display_ko CHECK (display_ko <> '');

-- Administrators add measures over the API too (POST /measures, admin tokens only).
GRANT INSERT ON measure_definition TO registry_api;

-- A screening visit: unscheduled, before the first dose (or before any dose is recorded), on or
-- after consent; the domain's VisitRules checks its window. It completes no follow-up.
ALTER TABLE visit
    ADD COLUMN screening boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT visit_screening_unscheduled CHECK (NOT screening OR follow_up_id IS NULL);
