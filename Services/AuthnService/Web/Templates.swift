import Mustache

/// The HTML of the Authentication Service: Mustache templates compiled once at start-up.
///
/// Rules the templates keep: every value goes through `{{ }}` (HTML-escaped; never triple
/// braces), no inline script or style (the CSP forbids both), every form carries `csrf_token`,
/// every input has a `<label for>` and an `autocomplete` hint, and error text sits in a
/// `role="alert"` element the inputs reference with `aria-describedby`.
enum Templates {
    static let sources: [String: String] = [
        "layout": layout,
        "client": client,
        PageRenderer.Page.login.rawValue: login,
        PageRenderer.Page.consent.rawValue: consent,
        PageRenderer.Page.error.rawValue: error,
        PageRenderer.Page.loggedOut.rawValue: loggedOut,
        PageRenderer.Page.logoutConfirm.rawValue: logoutConfirm,
        PageRenderer.Page.account.rawValue: account,
    ]

    static func makeLibrary() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in sources {
            try library.register(text, named: name)
        }
        return library
    }

    /// The page frame; pages fill the `title` and `content` blocks.
    static let layout = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex, nofollow">
        <title>{{$title}}NeoSec{{/title}} · NeoSec</title>
        <link rel="stylesheet" href="{{base}}/assets/app.css">
        </head>
        <body>
        <header class="site-header"><span class="brand"><span class="brand-mark" aria-hidden="true"></span>NeoSec</span></header>
        <main class="card">
        {{$content}}{{/content}}
        </main>
        <footer class="site-footer"><p>NeoSec account service</p></footer>
        </body>
        </html>

        """

    /// The relying party, as registered (RFC 7591 §2 display metadata). Only http(s) URIs reach here.
    static let client = """
        {{#client}}
        <section class="client" aria-label="Application">
        {{#logoURI}}<img class="client-logo" src="{{.}}" alt="" width="48" height="48">{{/logoURI}}
        <div>
        <p class="client-name">{{name}}</p>
        {{#hasLinks}}
        <ul class="client-links">
        {{#clientURI}}<li><a href="{{.}}" rel="noopener noreferrer" target="_blank">Website</a></li>{{/clientURI}}
        {{#policyURI}}<li><a href="{{.}}" rel="noopener noreferrer" target="_blank">Privacy policy</a></li>{{/policyURI}}
        {{#tosURI}}<li><a href="{{.}}" rel="noopener noreferrer" target="_blank">Terms of service</a></li>{{/tosURI}}
        </ul>
        {{/hasLinks}}
        </div>
        </section>
        {{/client}}

        """

    static let login = """
        {{<layout}}
        {{$title}}Sign in{{/title}}
        {{$content}}
        <h1>Sign in</h1>
        {{#client}}<p class="lead">to continue to <strong>{{name}}</strong></p>{{/client}}
        {{>client}}
        {{#error}}<p id="form-error" class="alert" role="alert">{{.}}</p>{{/error}}
        <form method="post" action="{{base}}/login" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        {{#challenge}}<input type="hidden" name="login_challenge" value="{{.}}">{{/challenge}}
        <div class="field">
        <label for="username">Username</label>
        <input id="username" name="username" type="text" value="{{username}}" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="64" required{{#error}} aria-describedby="form-error" aria-invalid="true"{{/error}}{{^hasUsername}} autofocus{{/hasUsername}}>
        </div>
        <div class="field">
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" maxlength="1024" required{{#error}} aria-describedby="form-error" aria-invalid="true"{{/error}}{{#hasUsername}} autofocus{{/hasUsername}}>
        </div>
        <div class="actions">
        <button type="submit" class="primary">Sign in</button>
        {{#challenge}}<button type="submit" name="action" value="cancel" class="secondary" formnovalidate>Cancel</button>{{/challenge}}
        </div>
        </form>
        {{/content}}
        {{/layout}}

        """

    static let consent = """
        {{<layout}}
        {{$title}}Allow access{{/title}}
        {{$content}}
        <h1><span class="client-name-inline">{{clientName}}</span> wants to access your NeoSec account</h1>
        <p class="lead">Signed in as <strong>{{username}}</strong></p>
        {{>client}}
        <form method="post" action="{{base}}/consent" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <input type="hidden" name="consent_challenge" value="{{challenge}}">
        <fieldset class="scopes">
        <legend>This will allow {{clientName}} to:</legend>
        {{#scopes}}
        <div class="scope">
        <input type="checkbox" id="{{id}}" name="scope" value="{{value}}" checked>
        <label for="{{id}}">{{description}}</label>
        </div>
        {{/scopes}}
        </fieldset>
        {{#hasAudiences}}
        <section class="audiences" aria-labelledby="audiences-heading">
        <h2 id="audiences-heading">Where this access can be used</h2>
        <ul>
        {{#audiences}}<li><code>{{.}}</code></li>{{/audiences}}
        </ul>
        </section>
        {{/hasAudiences}}
        <p class="hint">Make sure you trust {{clientName}}. You can remove its access at any time from your account page.</p>
        <div class="actions">
        <button type="submit" name="decision" value="allow" class="primary">Allow</button>
        <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
        </div>
        </form>
        {{/content}}
        {{/layout}}

        """

    static let error = """
        {{<layout}}
        {{$title}}{{heading}}{{/title}}
        {{$content}}
        <h1>{{heading}}</h1>
        <p class="alert" role="alert">{{message}}</p>
        <p><a href="{{base}}/account">Go to your NeoSec account</a></p>
        {{/content}}
        {{/layout}}

        """

    static let logoutConfirm = """
        {{<layout}}
        {{$title}}Sign out{{/title}}
        {{$content}}
        <h1>Sign out of NeoSec?</h1>
        {{#clientName}}<p class="lead"><strong>{{.}}</strong> is asking to sign you out.</p>{{/clientName}}
        <p>You will be signed out of NeoSec on this device, and apps that rely on this sign-in may ask you to sign in again.</p>
        <form method="post" action="{{base}}/logout" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        {{#challenge}}<input type="hidden" name="logout_challenge" value="{{.}}">{{/challenge}}
        <div class="actions">
        <button type="submit" class="primary">Sign out</button>
        </div>
        </form>
        {{/content}}
        {{/layout}}

        """

    static let loggedOut = """
        {{<layout}}
        {{$title}}Signed out{{/title}}
        {{$content}}
        <h1>You are signed out</h1>
        <p class="lead">You have been signed out of NeoSec on this device. You can close this window.</p>
        <p><a href="{{base}}/login">Sign in again</a></p>
        {{/content}}
        {{/layout}}

        """

    static let account = """
        {{<layout}}
        {{$title}}Your account{{/title}}
        {{$content}}
        <h1>Your account</h1>
        <p class="lead">Signed in as <strong>{{username}}</strong></p>
        <form method="post" action="{{base}}/logout" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <div class="actions">
        <button type="submit" class="secondary">Sign out</button>
        </div>
        </form>
        {{/content}}
        {{/layout}}

        """

    /// Served at `/assets/app.css`: the only style the CSP (`style-src 'self'`) admits.
    static let stylesheet = """
        :root {
          color-scheme: light dark;
          --bg: #f4f5f7; --card: #ffffff; --text: #1c1e21; --muted: #5f6670; --border: #d8dbe0;
          --accent: #2f5bea; --accent-text: #ffffff; --alert-bg: #fdecec; --alert-text: #8a1c1c; --focus: #8fb0ff;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #15171a; --card: #1e2125; --text: #e8eaed; --muted: #a0a6ae; --border: #353a40;
            --accent: #6d8dff; --accent-text: #0b0d10; --alert-bg: #3a1d1f; --alert-text: #ffb4b4; --focus: #4a6ee0;
          }
        }
        *, *::before, *::after { box-sizing: border-box; }
        html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; line-height: 1.5; }
        body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center; background: var(--bg); color: var(--text); }
        .site-header { width: 100%; max-width: 28rem; padding: 2rem 1rem 1rem; }
        .brand { display: inline-flex; align-items: center; gap: .5rem; font-weight: 650; font-size: 1.125rem; letter-spacing: .01em; }
        .brand-mark { width: 1.25rem; height: 1.25rem; border-radius: .35rem; background: linear-gradient(135deg, var(--accent), #8a5cf6); }
        .card { width: calc(100% - 2rem); max-width: 28rem; background: var(--card); border: 1px solid var(--border); border-radius: .75rem;
          padding: 2rem; box-shadow: 0 1px 3px rgba(0, 0, 0, .06); }
        .site-footer { color: var(--muted); font-size: .8125rem; padding: 1.5rem 1rem; }
        h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 .5rem; }
        h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
        .lead { color: var(--muted); margin: 0 0 1.5rem; }
        .client { display: flex; gap: .75rem; align-items: center; padding: .75rem; margin: 0 0 1.5rem; border: 1px solid var(--border); border-radius: .5rem; }
        .client-logo { border-radius: .5rem; object-fit: contain; flex: none; }
        .client-name { font-weight: 600; margin: 0; }
        .client-links { list-style: none; display: flex; flex-wrap: wrap; gap: .75rem; margin: .25rem 0 0; padding: 0; font-size: .875rem; }
        .stack { display: flex; flex-direction: column; gap: 1rem; }
        .field { display: flex; flex-direction: column; gap: .375rem; }
        label { font-weight: 550; }
        input[type="text"], input[type="password"] { font: inherit; padding: .625rem .75rem; border: 1px solid var(--border); border-radius: .5rem;
          background: var(--card); color: var(--text); }
        input[aria-invalid="true"] { border-color: var(--alert-text); }
        input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
        .scopes { border: 0; margin: 0; padding: 0; display: flex; flex-direction: column; gap: .5rem; }
        .scopes legend { font-weight: 600; margin-bottom: .5rem; padding: 0; }
        .scope { display: flex; gap: .625rem; align-items: flex-start; padding: .5rem .75rem; border: 1px solid var(--border); border-radius: .5rem; }
        .scope input { margin-top: .3rem; width: 1rem; height: 1rem; accent-color: var(--accent); }
        .scope label { font-weight: 450; }
        .audiences ul { margin: 0; padding-left: 1.25rem; }
        code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .875em; word-break: break-all; }
        .hint { color: var(--muted); font-size: .875rem; margin: 0; }
        .actions { display: flex; gap: .75rem; flex-wrap: wrap; margin-top: .5rem; }
        button { font: inherit; font-weight: 600; padding: .625rem 1.25rem; border-radius: .5rem; border: 1px solid transparent; cursor: pointer; }
        button.primary { background: var(--accent); color: var(--accent-text); }
        button.primary:hover { filter: brightness(1.08); }
        button.secondary { background: transparent; color: var(--text); border-color: var(--border); }
        button.secondary:hover { background: var(--bg); }
        .alert { background: var(--alert-bg); color: var(--alert-text); padding: .75rem 1rem; border-radius: .5rem; margin: 0 0 1rem; }
        a { color: var(--accent); }
        @media (max-width: 30rem) { .card { padding: 1.5rem 1.25rem; } .actions button { flex: 1; } }

        """
}
