"""The web application as its people use it, in a real browser (chromium, headless).

Run by scripts/browser-test, which starts `registry serve` on a synthetic registry and creates one
account per role (ACCOUNTS: a JSON file of usernames, one-time passwords and institutions).
Each check prints one line; the first failure stops the run with a screenshot and the page's text.
"""
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

from axe_selenium_python import Axe
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["BASE_URL"]
ACCOUNTS = json.load(open(os.environ["ACCOUNTS"]))
DATABASE_URL = os.environ["DATABASE_URL"]
SCREENSHOTS = "--screenshots" in sys.argv
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NEW_PASSWORD = "long-follow-up 2026 가을"
checks = 0


def seoul_today():
    """The registry's today: the date in Seoul (a UTC evening is already tomorrow there)."""
    return datetime.now(ZoneInfo("Asia/Seoul")).date()


def sql(query):
    out = subprocess.run(["psql", DATABASE_URL, "-qAt", "-c", query], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def browser(language="ko-KR", width=1280, height=900):
    options = Options()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--lang={language}",
                     f"--window-size={width},{height}"]:
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    if width < 500:
        # A desktop window cannot be narrower than 500 px: a phone is emulated instead.
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1}})
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


class Check:
    def __init__(self, driver):
        self.d = driver
        self.axe_pages = []

    def go(self, path):
        self.d.get(BASE + path)

    def text(self):
        return self.d.find_element(By.TAG_NAME, "body").text

    def heading(self):
        return self.d.find_element(By.TAG_NAME, "h1").text

    def path(self):
        return self.d.current_url[len(BASE):]

    def ok(self, name, condition, detail=""):
        global checks
        if not condition:
            shot = os.path.join("/tmp", "registry-web-failure.png")
            self.d.save_screenshot(shot)
            print(f"not ok - {name} {detail}\n  at {self.d.current_url}\n  screenshot {shot}\n--- page ---\n{self.text()[:3000]}", file=sys.stderr)
            sys.exit(1)
        checks += 1
        print(f"ok {checks} - {name}")

    def fill(self, name, value):
        field = self.d.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)

    def set_value(self, name, value):
        """Sets a field's value directly (date inputs take typed text only in the browser's locale)."""
        self.d.execute_script("document.getElementsByName(arguments[0])[0].value = arguments[1]", name, value)

    def submit(self, button_text=None):
        buttons = self.d.find_elements(By.CSS_SELECTOR, "main form button[type=submit]")
        button = buttons[-1] if button_text is None else [b for b in buttons if b.text == button_text][0]
        # The person accepts any "are you sure?" the page asks.
        self.d.execute_script("window.__page = 'before'; window.confirm = function () { return true }")
        button.click()
        self.wait_new_page()

    def click(self, element):
        """Clicks a link or button that loads a page, and waits for that page."""
        self.d.execute_script("window.__page = 'before'")
        element.click()
        self.wait_new_page()

    def wait_new_page(self):
        """Until the page the last action asked for has loaded (the marker set on the old one is gone)."""
        WebDriverWait(self.d, 20, ignored_exceptions=[WebDriverException]).until(
            lambda d: d.execute_script("return document.readyState === 'complete' && window.__page === undefined"))

    def submit_signed(self, password):
        """Submits a signed form; when it lists consequences, confirms them (signing again) and submits once more."""
        self.submit()
        if self.d.find_elements(By.NAME, "confirm"):
            self.ok("the consequences are listed before anything changes, in Korean", "이 변경은 다음도 함께 바꿉니다" in self.text()
                    and "follow-up" not in self.d.find_element(By.CSS_SELECTOR, ".consequences ul").text)
            self.d.find_element(By.NAME, "confirm").click()
            self.fill("password", password)
            self.submit()

    def sign_in(self, username, password):
        self.fill("username", username)
        self.fill("password", password)
        self.submit()

    def axe(self, name):
        """axe-core on this page: no serious or critical violation."""
        axe = Axe(self.d)
        axe.inject()
        results = axe.run(options={"resultTypes": ["violations"]})
        bad = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
        detail = "; ".join(f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad)
        self.ok(f"accessibility of {name}: no serious violation", not bad, detail)

    def rows(self):
        return [r.get_attribute("data-follow-up") for r in self.d.find_elements(By.CSS_SELECTOR, "#worklist-rows tr")]

    def shot(self, name):
        if SCREENSHOTS:
            folder = os.path.join(ROOT, "docs", "screenshots")
            os.makedirs(folder, exist_ok=True)
            height = self.d.execute_script("return Math.min(document.body.scrollHeight, 2400)")
            width = self.d.get_window_size()["width"]
            self.d.set_window_size(width, max(height + 120, 700))
            self.d.execute_script("window.scrollTo(0, 0)")
            self.d.save_screenshot(os.path.join(folder, f"{name}.png"))


def coordinator_day():
    d = browser()
    c = Check(d)
    try:
        me = ACCOUNTS["coordinator"]
        # Sign-in and the first password change, in Korean (the browser asks for ko-KR).
        c.go("/app/worklist")
        c.ok("an unsigned visitor is sent to sign-in, in Korean", c.path().startswith("/app/sign-in") and c.heading() == "로그인")
        c.axe("sign-in")
        c.sign_in("coordinator", "not-the-password")
        c.ok("a wrong password is refused without saying which part was wrong", "사용자 이름 또는 비밀번호가 맞지 않습니다" in c.text())
        c.sign_in("coordinator", me["password"])
        c.ok("the one-time password leads to the password change", c.path() == "/app/password" and "처음 로그인" in c.text())
        c.axe("password change")
        c.fill("current_password", me["password"]); c.fill("new_password", "short"); c.fill("repeat_password", "other")
        c.submit()
        c.ok("a weak, unrepeated new password is refused, each field named",
             len(d.find_elements(By.CSS_SELECTOR, ".field-error")) >= 2 and c.path() == "/app/password")
        c.fill("current_password", me["password"]); c.fill("new_password", NEW_PASSWORD); c.fill("repeat_password", NEW_PASSWORD)
        c.submit()
        c.ok("after the change the coordinator lands on the worklist", c.path().startswith("/app/worklist") and c.heading() == "추적조사 목록")
        c.axe("worklist")
        c.shot("worklist-ko-1280")

        # Log a visit for the oldest overdue follow-up, from the worklist; it leaves the list.
        overdue = [r.get_attribute("data-follow-up") for r in d.find_elements(By.CSS_SELECTOR, "#worklist-rows tr.overdue")]
        c.ok("the worklist shows overdue follow-ups with days overdue", len(overdue) >= 3 and "일 지남" in c.text(), f"{len(overdue)} overdue")
        first = overdue[0]
        c.click(d.find_element(By.CSS_SELECTOR, f'tr[data-follow-up="{first}"] a[href$="/visit"]'))
        c.ok("the row's action opens the visit form", c.path() == f"/app/follow-ups/{first}/visit" and c.heading() == "방문 기록")
        c.axe("visit form")
        c.shot("visit-ko-1280")
        c.fill("m.ecog", "1")
        c.submit()
        c.ok("the visit is saved and the follow-up leaves the worklist",
             c.path().startswith("/app/worklist") and "방문을 기록했습니다" in c.text() and first not in c.rows())
        c.ok("the visit is stored once, as the coordinator",
             sql(f"SELECT count(*) FROM visit WHERE follow_up_id = {first}") == "1"
             and sql(f"SELECT count(*) FROM audit_log WHERE actor = 'user:coordinator' AND entity = 'visit'") not in ("", "0"))

        # A form with three mistakes: three messages beside their fields, what was typed kept, nothing written.
        second = c.rows()[0]
        c.go(f"/app/follow-ups/{second}/visit")
        c.set_value("on", "")
        d.execute_script("document.querySelectorAll('input[name=vital]').forEach(function (r) { r.checked = false })")
        c.fill("m.ecog", "9")
        visits_before = sql("SELECT count(*) FROM visit")
        c.submit()
        errors = [e.text for e in d.find_elements(By.CSS_SELECTOR, ".field-error")]
        c.ok("three mistakes give three messages, each beside its field", len(errors) == 3
             and d.find_element(By.ID, "e-on") and d.find_element(By.ID, "e-vital") and d.find_element(By.ID, "e-m.ecog"), str(errors))
        c.ok("the summary lists the three and says nothing was saved",
             len(d.find_elements(By.CSS_SELECTOR, "#error-summary li")) == 3 and "아무것도 저장하지 않았습니다" in c.text())
        c.ok("what was typed is kept", d.find_element(By.NAME, "m.ecog").get_attribute("value") == "9")
        c.ok("the refused form wrote nothing", sql("SELECT count(*) FROM visit") == visits_before)
        c.axe("visit form with errors")
        c.shot("visit-errors-ko-1280")

        # A form posted without its CSRF token is refused and writes nothing.
        c.go(f"/app/follow-ups/{second}/visit")
        d.execute_script("document.querySelector('main form input[name=_csrf]').remove()")
        c.submit()
        c.ok("a form without the CSRF token is refused", c.heading() == "양식이 만료되었습니다")
        c.ok("and wrote nothing", sql("SELECT count(*) FROM visit") == visits_before)

        # Keyboard only: from the worklist, Tab to the first row's "log visit", Enter, Tab to save, Enter.
        c.go("/app/worklist")
        target = c.rows()[0]
        body = d.find_element(By.TAG_NAME, "body")
        body.click()
        reached = False
        for _ in range(80):
            d.switch_to.active_element.send_keys(Keys.TAB)
            active = d.switch_to.active_element
            if (active.get_attribute("href") or "").endswith(f"/app/follow-ups/{target}/visit"):
                reached = True
                break
        c.ok("the keyboard reaches the first row's visit link", reached)
        d.switch_to.active_element.send_keys(Keys.ENTER)
        WebDriverWait(d, 10).until(lambda _: c.path() == f"/app/follow-ups/{target}/visit")
        for _ in range(120):
            d.switch_to.active_element.send_keys(Keys.TAB)
            if d.execute_script("var a = document.activeElement; return a.type === 'submit' && a.closest('main form') !== null"):
                break
        d.switch_to.active_element.send_keys(Keys.ENTER)
        WebDriverWait(d, 20).until(lambda _: c.path().startswith("/app/worklist"))
        c.ok("a visit logged with the keyboard only leaves the worklist", target not in c.rows() and "방문을 기록했습니다" in c.text())

        # Enrol a patient, find them by the hospital's number, see their page.
        c.go("/app/patients/new")
        c.axe("enrolment form")
        c.fill("local-id", "MRN-웹-0001"); c.fill("birth-year", "1961")
        d.find_element(By.CSS_SELECTOR, "input[name=sex][value=female]").click()
        c.set_value("consent-on", seoul_today().isoformat()); c.fill("consent-version", "2.1")
        c.submit()
        c.ok("the patient is enrolled and their page shown", "환자를 등록했습니다" in c.text() and c.path().startswith("/app/patients/"))
        patient_path = c.path().split("?")[0]
        c.ok("the hospital number is stored nowhere", sql("SELECT count(*) FROM patient WHERE pseudonym LIKE '%MRN%'") == "0")
        c.go("/app/patients")
        c.axe("find a patient")
        c.fill("local-id", "MRN-웹-0001")
        c.submit("찾기")
        c.ok("finding by the hospital number opens the same patient", c.path() == patient_path)
        overdue_patient = sql(f"SELECT patient_id FROM follow_up WHERE id = {first}")
        c.go(f"/app/patients/{overdue_patient}")
        c.ok("the patient page shows the schedule and the timeline with the visit",
             "추적조사 일정" in c.text() and "경과" in c.text() and "방문" in c.text())
        c.axe("patient page")
        c.shot("patient-ko-1280")

        # Another site's patient is "not found".
        other = sql(f"SELECT p.id FROM patient p JOIN institution i ON i.id = p.enrolled_by WHERE i.code = '{ACCOUNTS['coordinator2']['institution']}' LIMIT 1")
        c.go(f"/app/patients/{other}")
        c.ok("another site's patient page is not found", c.heading() == "찾을 수 없습니다")
        c.axe("not-found page")

        # A lost-to-follow-up proposal from the nightly job, decided from the worklist's notice.
        sql(f"INSERT INTO lost_proposal (patient_id, institution_id, proposed_on, missed_count) "
            f"SELECT id, institution_id, DATE '{seoul_today().isoformat()}', 3 FROM patient WHERE id = {overdue_patient} ON CONFLICT DO NOTHING")
        proposal = sql(f"SELECT id FROM lost_proposal WHERE patient_id = {overdue_patient} AND decision = 'pending'")
        c.go("/app/worklist")
        c.click(d.find_element(By.CSS_SELECTOR, "main p.notice a[href='/app/lost-proposals']"))
        c.ok("the worklist leads to the pending proposals", c.heading().startswith("추적 소실 제안")
             and len(d.find_elements(By.CSS_SELECTOR, f"tr[data-proposal='{proposal}']")) == 1)
        c.axe("lost-to-follow-up proposals")
        c.go(f"/app/lost-proposals/{proposal}")
        c.axe("lost-to-follow-up proposal")
        c.shot("lost-proposal-ko-1280")
        d.find_element(By.ID, "f-reject_reason").send_keys("전화로 연락됨, 다음 방문 예약")
        c.submit("제안 거절")
        c.ok("rejecting keeps the patient active and records who decided and why",
             "결정이 기록되었습니다" in c.text()
             and sql(f"SELECT decision || '|' || decided_by || '|' || reason FROM lost_proposal WHERE id = {proposal}") == "rejected|user:coordinator|전화로 연락됨, 다음 방문 예약"
             and sql(f"SELECT status FROM patient WHERE id = {overdue_patient}") == "active")

        # English, by the switch on every page, and back.
        c.go("/app/worklist")
        c.click(d.find_element(By.CSS_SELECTOR, "a.lang"))
        c.ok("the switch shows the page in English", c.heading() == "Worklist" and d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
        c.shot("worklist-en-1280")
        c.go(f"/app/follow-ups/{c.rows()[0]}/visit")
        c.set_value("on", "")
        c.submit()
        c.ok("refusals are in English too", "There is a problem with what you entered" in c.text())
        c.go(patient_path)
        c.shot("patient-en-1280")
        c.click(d.find_element(By.CSS_SELECTOR, "a.lang"))
        c.ok("and back to Korean", c.heading().startswith("환자"))

        # Phone width.
        d.set_window_size(390, 844)
        c.go("/app/worklist")
        c.ok("at 390 px the worklist needs no sideways scrolling",
             d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"))
        c.shot("worklist-ko-390")
        c.go(patient_path)
        c.shot("patient-ko-390")
        d.set_window_size(1280, 900)

        # An expired session returns to sign-in, and sign-in returns to where the person was going.
        sql("UPDATE web_session SET last_seen_at = now() - interval '2 hours' WHERE revoked_at IS NULL")
        c.go("/app/worklist")
        c.ok("an idle session is ended and the page asks to sign in again", c.path().startswith("/app/sign-in") and "세션이 끝났습니다" in c.text())
        c.sign_in("coordinator", NEW_PASSWORD)
        c.ok("signing in again returns to the worklist", c.path().startswith("/app/worklist"))

        # Sign-out ends the session on the server.
        d.find_element(By.CSS_SELECTOR, "header form button").click()
        WebDriverWait(d, 20).until(lambda _: "signed_out" in d.current_url)
        c.ok("sign-out returns to sign-in", c.path().startswith("/app/sign-in") and "로그아웃했습니다" in c.text())
        c.go("/app/worklist")
        c.ok("after sign-out the worklist needs sign-in again", c.path().startswith("/app/sign-in"))
        c.ok("sign-in, failure and sign-out are in the audit trail",
             sql("SELECT count(DISTINCT kind) FROM sign_in_event WHERE username = 'coordinator' AND kind IN ('signed_in','failed','signed_out')") == "3")
    finally:
        d.quit()


def first_day():
    """A coordinator's first day, in Korean and in the browser alone: enrol 5 patients, record their
    doses, log this week's visits, report and submit a serious event, record a death and a transfer,
    correct a wrong date (signed)."""
    from datetime import timedelta
    d = browser()
    c = Check(d)
    today = seoul_today()
    try:
        c.go("/app/sign-in")
        c.sign_in("coordinator", NEW_PASSWORD)
        patients = []
        for n in range(1, 6):
            c.go("/app/patients/new")
            c.fill("local-id", f"DAY1-{n:03d}"); c.fill("birth-year", str(1950 + n * 5))
            d.find_element(By.CSS_SELECTOR, f"input[name=sex][value={'female' if n % 2 else 'male'}]").click()
            c.set_value("consent-on", (today - timedelta(days=10)).isoformat()); c.fill("consent-version", "3")
            c.submit()
            patients.append(c.path().split("?")[0])
        c.ok("five patients enrolled", len(set(patients)) == 5 and all(p.startswith("/app/patients/") for p in patients))

        for n, patient in enumerate(patients):
            c.go(patient + "/dose")
            if n == 0:
                c.axe("dose form")
            options = d.find_elements(By.CSS_SELECTOR, "select[name=plan] option")
            d.execute_script("document.querySelector('select[name=plan]').value = arguments[0]", options[1].get_attribute("value"))
            c.set_value("on", (today - timedelta(days=3)).isoformat())
            c.fill("lot", f"LOT-26-{n:02d}"); c.fill("dose", "2.0x10^6 cells/kg")
            c.fill("fee-notified", "15,000,000"); c.fill("fee-collected", "15000000")
            c.submit()
            c.ok(f"patient {n + 1}'s dose is recorded and its schedule generated",
                 "투여를 기록했습니다" in c.text() and len(d.find_elements(By.CSS_SELECTOR, "#schedule tbody tr")) > 3)
        c.axe("patient page with a schedule")

        # This week's visits: the first open follow-up of each patient, seen today.
        for n, patient in enumerate(patients):
            c.go(patient)
            c.click(d.find_element(By.CSS_SELECTOR, "#schedule a[href$='/visit?from=patient']"))
            c.set_value("on", today.isoformat())
            c.submit()
            c.ok(f"patient {n + 1}'s visit is logged from their page", "방문을 기록했습니다" in c.text() and c.path().startswith(patient))

        # A serious adverse event, then its expedited report's submission.
        c.go(patients[0] + "/adverse-event")
        c.axe("adverse event form")
        c.fill("term", "사이토카인 방출 증후군")
        d.execute_script("document.querySelector('select[name=category]').value = 'other'")
        c.set_value("onset", (today - timedelta(days=1)).isoformat()); c.set_value("aware", today.isoformat())
        d.execute_script("document.querySelector('select[name=grade]').value = '3'")
        d.find_element(By.CSS_SELECTOR, "input[name=serious]").click()
        c.submit()
        c.ok("a serious event without a criterion is refused, naming it", c.path().endswith("/adverse-event")
             and len(d.find_elements(By.CSS_SELECTOR, ".field-error")) >= 1 and sql("SELECT count(*) FROM adverse_event WHERE term LIKE '사이토카인%'") == "0")
        d.find_element(By.CSS_SELECTOR, "input[name=criteria][value=hospitalization]").click()
        d.execute_script("document.querySelector('select[name=related]').value = 'probable'")
        d.execute_script("document.querySelector('select[name=outcome]').value = 'recovering'")
        c.submit()
        c.ok("the serious event is reported and its report clock shown", "이상사례를 보고했습니다" in c.text() and "신속보고 기한" in c.text())
        d.find_element(By.CSS_SELECTOR, "form.submission button").click()
        WebDriverWait(d, 20).until(lambda _: "submitted=1" in d.current_url)
        c.ok("the expedited report's submission is recorded", "신속보고 제출을 기록했습니다" in c.text() and "보고함" in c.text())

        # The event corrected, signed: it has since resolved.
        c.click(d.find_element(By.CSS_SELECTOR, "ol.timeline a[href^='/app/adverse-events/'][href$='/correct']"))
        c.axe("adverse event correction")
        c.ok("the correction form starts from the event as recorded", d.find_element(By.NAME, "term").get_attribute("value") == "사이토카인 방출 증후군")
        d.execute_script("document.querySelector('select[name=outcome]').value = 'recovered'")
        c.set_value("outcome-on", today.isoformat()); c.fill("reason", "추적 결과 회복 확인"); c.fill("password", NEW_PASSWORD)
        c.submit_signed(NEW_PASSWORD)
        c.ok("the event's outcome is corrected", "정정했습니다" in c.text()
             and sql("SELECT outcome FROM adverse_event WHERE term = '사이토카인 방출 증후군'") == "recovered")
        # A death and a transfer.
        c.go(patients[1] + "/status")
        c.axe("status change form")
        d.find_element(By.CSS_SELECTOR, "input[name=kind][value=death]").click()
        c.set_value("on", today.isoformat()); c.fill("reason", "질병 진행")
        c.submit()
        c.ok("the death is recorded and the patient shown deceased", "상태 변경을 기록했습니다" in c.text() and "사망" in c.text())
        other = ACCOUNTS["coordinator2"]["institution"]
        c.go(patients[2] + "/status")
        d.find_element(By.CSS_SELECTOR, "input[name=kind][value=transfer]").click()
        c.set_value("on", today.isoformat()); c.fill("reason", "거주지 이전"); c.fill("to", other)
        c.submit()
        c.ok("the transfer is recorded", "전원을 기록했습니다" in c.text())
        c.go(patients[2])
        c.ok("the transferred patient now belongs to the other site", c.heading() == "찾을 수 없습니다")

        # Correct a wrong date: a signature is required; then signed, the date changes.
        c.go(patients[3])
        c.click(d.find_element(By.CSS_SELECTOR, "ol.timeline a[href^='/app/visits/'][href$='/correct']"))
        c.axe("visit correction form")
        c.set_value("on", (today - timedelta(days=1)).isoformat()); c.fill("reason", "방문일을 잘못 입력하여 정정함")
        c.submit()
        visit_id = c.path().split("/")[3]
        c.ok("a correction without the signature is refused and writes nothing",
             "e-password" in d.page_source and sql(f"SELECT visit_on FROM visit WHERE id = {visit_id}") == today.isoformat())
        c.set_value("on", (today - timedelta(days=1)).isoformat()); c.fill("reason", "방문일을 잘못 입력하여 정정함")
        c.fill("password", NEW_PASSWORD)
        c.submit()
        c.ok("the signed correction changes the date", "정정했습니다" in c.text()
             and sql(f"SELECT visit_on FROM visit WHERE id = {visit_id}") == (today - timedelta(days=1)).isoformat())
        c.ok("its meaning and reason are stored with it, as the person",
             sql(f"SELECT count(*) FROM audit_log WHERE entity = 'visit' AND entity_id = {visit_id} AND action = 'update' "
                 "AND actor = 'user:coordinator' AND reason LIKE 'signed by coordinator (correction): 방문일을%'") == "1")
        # Voids, signed: a visit entered in error, then the dose it hung on (its schedule withdrawn).
        c.go(patients[4])
        c.click(d.find_element(By.CSS_SELECTOR, "ol.timeline a[href^='/app/records/visits/']"))
        c.axe("void page")
        c.fill("reason", "다른 환자의 방문을 잘못 입력함"); c.fill("password", NEW_PASSWORD)
        d.execute_script("window.confirm = function () { return true }")
        c.submit_signed(NEW_PASSWORD)
        c.ok("the visit is voided, kept and marked", "무효 처리했습니다" in c.text() and "무효 처리:" in c.text())
        c.click(d.find_element(By.CSS_SELECTOR, "ol.timeline a[href^='/app/records/doses/']"))
        c.fill("reason", "투여하지 않은 환자에 잘못 입력함"); c.fill("password", NEW_PASSWORD)
        d.execute_script("window.confirm = function () { return true }")
        c.submit_signed(NEW_PASSWORD)
        patient5 = patients[4].split("/")[-1]
        c.ok("the dose is voided and its schedule withdrawn",
             "무효 처리했습니다" in c.text() and sql(f"SELECT count(*) FROM follow_up WHERE patient_id = {patient5} AND status <> 'voided'") == "0")
        # A dose's lot corrected, signed.
        c.go(patients[3])
        c.click(d.find_element(By.CSS_SELECTOR, "ol.timeline a[href^='/app/doses/']"))
        c.axe("dose correction page")
        c.fill("lot", "LOT-26-03B"); c.fill("reason", "로트 번호 오기"); c.fill("password", NEW_PASSWORD)
        c.submit()
        c.ok("the dose's lot is corrected", "정정했습니다" in c.text() and "LOT-26-03B" in c.text())
        c.ok("the patient page lists the signed corrections with who, when and why",
             len(d.find_elements(By.CSS_SELECTOR, "#changes tbody tr")) >= 2 and "signed by coordinator (correction): 로트 번호 오기" in c.text()
             and "방문일을 잘못 입력하여 정정함" in c.text())
        # The patient's own details corrected, signed.
        c.go(patients[0] + "/correct")
        c.axe("patient correction page")
        c.fill("birth-year", "1956"); c.fill("reason", "출생연도 오기"); c.fill("password", NEW_PASSWORD)
        c.submit()
        patient1 = patients[0].split("/")[-1]
        c.ok("the patient's birth year is corrected, signed", "정정했습니다" in c.text()
             and sql(f"SELECT birth_year FROM patient WHERE id = {patient1}") == "1956"
             and sql(f"SELECT count(*) FROM audit_log WHERE entity = 'patient' AND entity_id = {patient1} AND reason LIKE 'signed by coordinator (correction): 출생연도%'") == "1")
        c.shot("patient-day1-ko-1280")
    finally:
        d.quit()


def totp(secret, step_offset=0):
    """RFC 6238: HMAC-SHA1 of the 30-second step, 6 digits."""
    import base64, hashlib, hmac, struct
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int(time.time()) // 30 + step_offset
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000:06d}"


def first_sign_in(c, username):
    """Signs in with the one-time password and sets the new one."""
    c.go("/app/sign-in")
    c.sign_in(username, ACCOUNTS[username]["password"])
    c.ok(f"{username}: the one-time password leads to the password change", c.path() == "/app/password")
    c.fill("current_password", ACCOUNTS[username]["password"]); c.fill("new_password", NEW_PASSWORD); c.fill("repeat_password", NEW_PASSWORD)
    c.submit()


def regulator_and_admin():
    import urllib.request
    d = browser()
    c = Check(d)
    try:
        first_sign_in(c, "regulator")
        c.ok("the regulator lands on the report form", c.path().startswith("/app/reports") and c.heading() == "성과 보고서")
        c.axe("report form")
        c.shot("report-form-ko-1280")
        c.go("/app/worklist")
        c.ok("a regulator may not open a coordinator's worklist", c.heading() == "권한이 없습니다")
        c.go("/app/reports")
        c.submit("보고서 보기")
        c.ok("a report without a purpose is refused, naming it", "e-purpose" in d.page_source and c.path().startswith("/app/reports"))
        pulls = sql("SELECT count(*) FROM report_pull")
        c.fill("purpose", "2026년 4분기 정기 검토")
        d.find_element(By.CSS_SELECTOR, "input[name=by][value=product]").click()
        c.submit("보고서 보기")
        c.ok("the report is shown as its HTML page, in Korean", c.heading() == "첨단재생의료의 성과" and "주요 수치" in c.text())
        c.go("/app/safety-listing")
        c.ok("the regulator finds the safety listing", c.heading() == "안전성 증례 목록")
        c.axe("safety listing form")
        c.shot("safety-listing-ko-1280")
        c.ok("its stylesheet applies under the strict policy (allowed by hash)",
             d.execute_script("return getComputedStyle(document.body).fontFamily") != "" and
             d.execute_script("return document.styleSheets.length") >= 1)
        c.ok("the pull is recorded with its purpose, as the person",
             sql("SELECT count(*) FROM report_pull WHERE pulled_by = 'user:regulator' AND purpose = '2026년 4분기 정기 검토'") == "1"
             and int(sql("SELECT count(*) FROM report_pull")) == int(pulls) + 1)
        c.shot("report-1280")
        cookie = "; ".join(f"{k['name']}={k['value']}" for k in d.get_cookies())
        query = "purpose=csv+check&format=csv&by=product"
        with urllib.request.urlopen(urllib.request.Request(f"{BASE}/app/reports/outcomes?{query}", headers={"Cookie": cookie})) as response:
            body = response.read().decode()
            c.ok("the report downloads as CSV", response.headers["Content-Type"].startswith("text/csv")
                 and "attachment" in response.headers["Content-Disposition"] and body.count("\n") > 3)
        def fetch(query):
            with urllib.request.urlopen(urllib.request.Request(f"{BASE}/app/reports/outcomes?{query}", headers={"Cookie": cookie})) as response:
                return response.read()
        quarter = fetch("purpose=q3+check&format=json&by=product&quarter=2026Q3")
        document = json.loads(quarter)
        c.ok("a quarter's report is as of its last day, recorded by its data lock (60 days after), both in its header",
             document["as_of"] == "2026-09-30" and document["recorded_by"] == "2026-11-29T15:00:00.000000Z", str(document.get("recorded_by")))
        pull = sql("SELECT max(id) FROM report_pull")
        c.ok("repeating its pull by number gives the same bytes", fetch(f"purpose=again&format=json&cut={pull}") == quarter)
        c.go("/app/reports")
        c.fill("purpose", "분기 확인"); c.fill("quarter", "2026Q9")
        c.submit("보고서 보기")
        c.ok("a quarter that is not one is refused in Korean, naming the field",
             "e-quarter" in d.page_source and "분기가 아닙니다" in c.text(), c.text()[:300])
    finally:
        d.quit()

    d = browser()
    c = Check(d)
    try:
        first_sign_in(c, "admin")
        c.ok("the administrator lands on the accounts page", c.path().startswith("/app/admin/users") and c.heading() == "사용자 계정")
        c.axe("accounts page")
        c.fill("username", "X"); c.fill("institution", "nowhere")
        c.submit("계정 추가")
        errors = d.find_elements(By.CSS_SELECTOR, ".field-error")
        c.ok("a new account with three mistakes gets three messages and is not made",
             len(errors) == 3 and sql("SELECT count(*) FROM app_user WHERE username = 'x'") == "0", str([e.text for e in errors]))
        c.fill("username", "park.coord")
        d.execute_script("document.querySelector('select[name=role]').value = 'coordinator'")
        c.fill("institution", ACCOUNTS["coordinator"]["institution"])
        c.submit("계정 추가")
        password = d.find_element(By.ID, "one-time-password").text
        c.ok("the account is made and its one-time password shown once", len(password) >= 16
             and sql("SELECT count(*) FROM audit_log WHERE entity = 'app_user' AND actor = 'user:admin'") != "0")
        c.shot("users-ko-1280")
        d.execute_script("window.confirm = function () { return true }")
        row = d.find_element(By.CSS_SELECTOR, 'tr[data-user="park.coord"]')
        row.find_element(By.NAME, "reason").send_keys("퇴사")
        d.execute_script("window.__page = 'before'")
        row.find_element(By.XPATH, ".//form[contains(@action, '/disable')]//button").click()
        c.wait_new_page()
        c.ok("the account is disabled with its reason", "사용 중지" in d.find_element(By.CSS_SELECTOR, 'tr[data-user="park.coord"]').text)

        # A second factor: set up with an authenticator's code, then asked for at sign-in.
        c.go("/app/account")
        c.axe("account page")
        c.submit("2단계 인증 설정")
        secret = d.find_element(By.ID, "totp-secret").get_attribute("data-secret")
        c.fill("code", "000000" if totp(secret) != "000000" else "111111")
        c.submit()
        c.ok("a wrong code does not switch the second factor on", "e-code" in d.page_source
             and sql("SELECT count(*) FROM app_user_credential c JOIN app_user u ON u.id = c.user_id WHERE u.username = 'admin' AND c.totp_secret IS NOT NULL") == "0")
        c.fill("code", totp(secret))
        c.submit()
        c.ok("the right code switches it on", "2단계 인증을 켰습니다" in c.text())
        d.find_element(By.CSS_SELECTOR, "header form button").click()
        WebDriverWait(d, 20).until(lambda _: "signed_out" in d.current_url)
        c.sign_in("admin", NEW_PASSWORD)
        c.ok("sign-in then asks for the code", len(d.find_elements(By.NAME, "code")) == 1 and "인증 앱의 코드" in c.text())
        c.fill("password", NEW_PASSWORD)
        c.fill("code", totp(secret, step_offset=1))
        c.submit()
        c.ok("with the code the administrator is signed in", c.path().startswith("/app/admin/users"))

        # The registry's set-up: a plan added and approved by the committee's decision; a token issued and revoked.
        c.go("/app/admin/registry")
        c.axe("registry set-up page")
        site = ACCOUNTS["coordinator"]["institution"]
        product = sql("SELECT code FROM product ORDER BY code LIMIT 1")
        d.execute_script("document.querySelectorAll('details').forEach(function (e) { e.open = true })")
        c.fill("institution", site); c.fill("product", product); c.fill("indication", "nope")
        d.execute_script("window.__page = 'before'")
        d.find_element(By.CSS_SELECTOR, "form[action='/app/admin/plans'] button").click()
        c.wait_new_page()
        c.ok("a plan with a bad indication is refused, naming it", "e-indication" in d.page_source)
        d.execute_script("document.querySelectorAll('details').forEach(function (e) { e.open = true })")
        c.fill("indication", "C91.0")
        d.execute_script("document.querySelector('#f-risk').value = 'high'")
        d.execute_script("window.__page = 'before'")
        d.find_element(By.CSS_SELECTOR, "form[action='/app/admin/plans'] button").click()
        c.wait_new_page()
        plan = sql(f"SELECT max(p.id) FROM treatment_plan p JOIN institution i ON i.id = p.institution_id WHERE i.code = '{site}' AND p.decision = 'pending'")
        c.ok("the plan is added, pending the committee", plan != "" and f'data-plan="{plan}"' in d.page_source)
        row = d.find_element(By.CSS_SELECTOR, f'tr[data-plan="{plan}"]')
        row.find_element(By.NAME, "reference").send_keys("IRB-2026-77")
        d.execute_script("window.__page = 'before'")
        row.find_element(By.CSS_SELECTOR, "button").click()
        c.wait_new_page()
        c.ok("the committee's approval is recorded", sql(f"SELECT decision FROM treatment_plan WHERE id = {plan}") == "approved")
        d.execute_script("document.querySelectorAll('details').forEach(function (e) { e.open = true })")
        d.execute_script("document.querySelector('#f-token-role').value = 'regulator'")
        c.fill("label", "safety agency")
        d.execute_script("window.__page = 'before'")
        d.find_element(By.CSS_SELECTOR, "form[action='/app/admin/tokens'] button").click()
        c.wait_new_page()
        token = d.find_element(By.ID, "token-secret").text
        c.ok("a token is issued and shown once", len(token) > 20)
        import urllib.request
        def aggregates(secret):
            try:
                with urllib.request.urlopen(urllib.request.Request(f"{BASE}/aggregates/summary", headers={"Authorization": f"Bearer {secret}"})) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code
        c.ok("the API takes it", aggregates(token) == 200)
        token_id = sql("SELECT max(id) FROM api_token WHERE label = 'safety agency'")
        form = d.find_element(By.CSS_SELECTOR, f"form[action='/app/admin/tokens/{token_id}/revoke']")
        form.find_element(By.NAME, "reason").send_keys("시험 종료")
        d.execute_script("window.confirm = function () { return true }; window.__page = 'before'")
        form.find_element(By.CSS_SELECTOR, "button").click()
        c.wait_new_page()
        c.ok("revoked, the API refuses it", aggregates(token) == 401)
        c.shot("registry-ko-1280")
    finally:
        d.quit()


def english_and_phone():
    """The main pages in English (the browser asks for en-GB), axe-checked; with --screenshots,
    each in both languages at laptop and phone width."""
    for language, width in [("en-GB", 1280), ("en-GB", 390), ("ko-KR", 390)]:
        d = browser(language=language, width=width, height=900 if width > 400 else 844)
        c = Check(d)
        lang = language[:2]
        try:
            c.go("/app/sign-in")
            c.sign_in("coordinator", NEW_PASSWORD)
            c.go("/app/worklist")
            c.ok(f"{lang} at {width} px: the worklist", c.heading() == ("Worklist" if lang == "en" else "추적조사 목록"))
            row = c.rows()[0]
            patient = d.find_element(By.CSS_SELECTOR, f'tr[data-follow-up="{row}"] a[href^="/app/patients/"]').get_attribute("href")[len(BASE):]
            if width > 400:
                c.axe(f"worklist ({lang})")
            c.shot(f"worklist-{lang}-{width}")
            c.go(f"/app/follow-ups/{row}/visit")
            if width > 400:
                c.axe(f"visit form ({lang})")
            c.shot(f"visit-{lang}-{width}")
            c.go(f"/app/follow-ups/{row}/not-done")
            c.ok(f"{lang} at {width} px: the not-done form", c.heading() == ("Close as not done" if lang == "en" else "미실시로 닫기"))
            if width > 400:
                c.axe(f"not-done form ({lang})")
            c.go(patient)
            c.ok(f"{lang} at {width} px: no sideways scrolling on the patient page",
                 d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"))
            if width > 400:
                c.axe(f"patient page ({lang})")
            c.shot(f"patient-{lang}-{width}")
        finally:
            d.quit()


if __name__ == "__main__":
    started = time.time()
    coordinator_day()
    first_day()
    regulator_and_admin()
    english_and_phone()
    print(f"# {checks} browser checks passed in {time.time() - started:.0f} s")
