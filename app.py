"""The imc dashboard: `streamlit run app.py` (no kubeconfig opens the built-in demo cluster)."""

import streamlit as st

from dashboard import shown_cluster
from dashboard.startup import configure_process

configure_process()
# connect and start the shared list+watch before the pages' modules load: the first lists (at 50,000 pods the long
# pole of a cold start) then run while they import
shown_cluster.current()

from dashboard import nav, shell, signin  # noqa: E402
from dashboard.safe import friendly  # noqa: E402

st.set_page_config(
    page_title="imc · ECI image caches",
    page_icon=":material/inventory_2:",
    layout="wide",
    initial_sidebar_state="expanded",
)
st.html("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem}"
        # below 1280 px the wide layout's 5rem side margins take what tables need
        "@media (max-width:1280px){[data-testid='stMainBlockContainer']{padding-left:2rem;padding-right:2rem}}"
        "</style>")
signin.require_sign_in()  # with sign-in configured, an anonymous visitor sees only the sign-in page
navigation = st.navigation(nav.sections())
friendly(signin.sidebar)()
friendly(shell.sidebar)()
navigation.run()
