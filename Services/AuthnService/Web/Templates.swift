import Mustache

/// The HTML of the Authentication Service: Mustache templates compiled once at start-up.
///
/// Rules the templates keep: every value goes through `{{ }}` (HTML-escaped; triple braces
/// only for the QR code's SVG on the enrolment page, which this service generates from a URI
/// it made itself: no user data reaches it), no inline script or style (the CSP forbids both),
/// every form carries `csrf_token`, every input has a `<label for>` and an `autocomplete` hint,
/// and error text sits in a `role="alert"` element the inputs reference with `aria-describedby`.
enum Templates {
    static let sources: [String: String] = [
        "layout": layout,
        "client": client,
        PageRenderer.Page.login.rawValue: login,
        PageRenderer.Page.otp.rawValue: otp,
        PageRenderer.Page.totpSetup.rawValue: totpSetup,
        PageRenderer.Page.recoveryCodes.rawValue: recoveryCodes,
        PageRenderer.Page.consent.rawValue: consent,
        PageRenderer.Page.error.rawValue: error,
        PageRenderer.Page.loggedOut.rawValue: loggedOut,
        PageRenderer.Page.logoutConfirm.rawValue: logoutConfirm,
        PageRenderer.Page.account.rawValue: account,
        PageRenderer.Page.device.rawValue: device,
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
        {{#hasProviders}}
        <section class="federation" aria-labelledby="federation-heading">
        <h2 id="federation-heading">Or sign in with</h2>
        {{#providers}}
        <form method="post" action="{{base}}/federation/start">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        {{#challenge}}<input type="hidden" name="login_challenge" value="{{.}}">{{/challenge}}
        <input type="hidden" name="provider" value="{{id}}">
        <button type="submit" class="secondary">Sign in with {{name}}</button>
        </form>
        {{/providers}}
        </section>
        {{/hasProviders}}
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

    /// RFC 8628 §3.3: the user code entry page.
    static let device = """
        {{<layout}}
        {{$title}}Connect a device{{/title}}
        {{$content}}
        <h1>Connect a device</h1>
        {{#notice}}<p class="notice" role="status">{{.}}</p>{{/notice}}
        <p class="lead">Enter the code shown on your TV, console or other device. You will then sign in and choose what it may do.</p>
        {{#error}}<p id="form-error" class="alert" role="alert">{{.}}</p>{{/error}}
        <form method="post" action="{{base}}/device" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <div class="field">
        <label for="user_code">Code</label>
        <input id="user_code" name="user_code" type="text" value="{{userCode}}" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="32" required{{#error}} aria-describedby="form-error" aria-invalid="true"{{/error}} autofocus>
        </div>
        <div class="actions">
        <button type="submit" class="primary">Continue</button>
        </div>
        </form>
        <p class="hint">Only enter a code you see on your own device. NeoSec will never ask you for a code by email or phone.</p>
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

    /// The account page (SPEC §5): profile, two-step verification, password, connected
    /// applications with per-app revoke, linked identities, sign-out. Each form posts back here
    /// and lands on `/account` again with a fixed message.
    static let account = """
        {{<layout}}
        {{$title}}Your account{{/title}}
        {{$content}}
        <h1>Your account</h1>
        <p class="lead">Signed in as <strong>{{username}}</strong></p>
        {{#notice}}<p class="notice" role="status">{{.}}</p>{{/notice}}
        {{#error}}<p class="alert" role="alert">{{.}}</p>{{/error}}

        <section class="section" aria-labelledby="profile-heading">
        <h2 id="profile-heading">Profile</h2>
        <dl class="details">
        <dt>Username</dt><dd>{{username}}</dd>
        <dt>Name</dt><dd>{{#name}}{{.}}{{/name}}{{^name}}Not set{{/name}}</dd>
        <dt>Email</dt><dd>{{#email}}{{.}}{{/email}}{{^email}}Not set{{/email}}</dd>
        </dl>
        </section>

        <section class="section" aria-labelledby="totp-heading">
        <h2 id="totp-heading">Two-step verification</h2>
        {{#totpEnabled}}
        <p>On. Signing in asks for a code from your authenticator app after your password. Recovery codes left: {{recoveryCodesLeft}}.</p>
        <form method="post" action="{{base}}/account/totp/disable" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <div class="field">
        <label for="totp-disable-password">Current password</label>
        <input id="totp-disable-password" name="password" type="password" autocomplete="current-password" maxlength="1024" required>
        </div>
        <div class="actions">
        <button type="submit" class="secondary">Turn off two-step verification</button>
        </div>
        </form>
        {{/totpEnabled}}
        {{^totpEnabled}}
        <p>Off. Add a code from an authenticator app to your password, so that a stolen password alone cannot open your account.</p>
        <form method="post" action="{{base}}/account/totp/start" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <div class="actions">
        <button type="submit" class="primary">Set up two-step verification</button>
        </div>
        </form>
        {{/totpEnabled}}
        </section>

        <section class="section" aria-labelledby="password-heading">
        <h2 id="password-heading">Password</h2>
        <form method="post" action="{{base}}/account/password" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <input type="text" name="username" value="{{username}}" autocomplete="username" hidden>
        <div class="field">
        <label for="current-password">Current password</label>
        <input id="current-password" name="current_password" type="password" autocomplete="current-password" maxlength="1024" required>
        </div>
        <div class="field">
        <label for="new-password">New password</label>
        <input id="new-password" name="new_password" type="password" autocomplete="new-password" minlength="8" maxlength="1024" required aria-describedby="new-password-hint">
        <p id="new-password-hint" class="hint">At least 8 characters. Changing it signs you out everywhere else.</p>
        </div>
        <div class="field">
        <label for="confirm-password">Confirm new password</label>
        <input id="confirm-password" name="confirm_password" type="password" autocomplete="new-password" minlength="8" maxlength="1024" required>
        </div>
        <div class="actions">
        <button type="submit" class="primary">Change password</button>
        </div>
        </form>
        </section>

        <section class="section" aria-labelledby="apps-heading">
        <h2 id="apps-heading">Connected applications</h2>
        {{#appsUnavailable}}<p class="alert" role="alert">Connected applications cannot be shown right now. Please try again in a moment.</p>{{/appsUnavailable}}
        {{^appsUnavailable}}{{^hasApps}}<p>No application has access to your account.</p>{{/hasApps}}{{/appsUnavailable}}
        {{#hasApps}}
        <ul class="apps">
        {{#apps}}
        <li class="app">
        <div>
        <p class="client-name">{{name}}</p>
        <p class="hint">Allowed: {{scopes}}</p>
        </div>
        <form method="post" action="{{base}}/account/apps/revoke">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <input type="hidden" name="client_id" value="{{clientID}}">
        <button type="submit" class="secondary" aria-label="Revoke access for {{name}}">Revoke access</button>
        </form>
        </li>
        {{/apps}}
        </ul>
        {{/hasApps}}
        </section>

        <section class="section" aria-labelledby="app-requests-heading">
        <h2 id="app-requests-heading">Permission requests from apps</h2>
        {{#appRequestsUnavailable}}<p class="alert" role="alert">Permission requests cannot be shown right now. Please try again in a moment.</p>{{/appRequestsUnavailable}}
        {{^appRequestsUnavailable}}{{^hasAppRequests}}<p>No app is waiting for your permission.</p>{{/hasAppRequests}}{{/appRequestsUnavailable}}
        {{#hasAppRequests}}
        <ul class="apps">
        {{#appRequests}}
        <li class="app">
        <div>
        <p class="client-name">{{clientName}} asks for access to your account</p>
        <p class="hint">Permissions: {{scopes}}</p>
        {{#bindingMessage}}<p class="hint">Check that your app shows: <strong>{{.}}</strong></p>{{/bindingMessage}}
        </div>
        <form method="post" action="{{base}}/account/backchannel/decide">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <input type="hidden" name="request_id" value="{{id}}">
        <button type="submit" name="decision" value="allow" class="primary" aria-label="Allow {{clientName}} {{scopes}}">Allow</button>
        <button type="submit" name="decision" value="deny" class="secondary" aria-label="Deny {{clientName}}">Deny</button>
        </form>
        </li>
        {{/appRequests}}
        </ul>
        {{/hasAppRequests}}
        </section>

        <section class="section" aria-labelledby="requests-heading">
        <h2 id="requests-heading">Pending requests</h2>
        {{#sharingUnavailable}}<p class="alert" role="alert">Shared resources and requests cannot be shown right now. Please try again in a moment.</p>{{/sharingUnavailable}}
        {{^sharingUnavailable}}{{^hasPendingRequests}}<p>Nobody is waiting for your decision.</p>{{/hasPendingRequests}}{{/sharingUnavailable}}
        {{#hasPendingRequests}}
        <ul class="apps">
        {{#pendingRequests}}
        <li class="app">
        <div>
        <p class="client-name">{{party}} asks for {{resourceName}}</p>
        <p class="hint">Permissions: {{scopes}} · through {{clientID}}</p>
        </div>
        <form method="post" action="{{base}}/account/sharing/decide">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <input type="hidden" name="request_id" value="{{id}}">
        <button type="submit" name="decision" value="allow" class="primary" aria-label="Allow {{party}} {{scopes}} on {{resourceName}}">Allow</button>
        <button type="submit" name="decision" value="deny" class="secondary" aria-label="Deny {{party}} access to {{resourceName}}">Deny</button>
        </form>
        </li>
        {{/pendingRequests}}
        </ul>
        {{/hasPendingRequests}}
        </section>

        <section class="section" aria-labelledby="shared-heading">
        <h2 id="shared-heading">Shared resources</h2>
        {{^sharingUnavailable}}{{^hasSharedResources}}<p>You have no resources registered for sharing.</p>{{/hasSharedResources}}{{/sharingUnavailable}}
        {{#sharedResources}}
        <article class="resource" aria-labelledby="resource-{{id}}">
        <h3 id="resource-{{id}}" class="client-name">{{name}}</h3>
        {{^hasGrants}}<p class="hint">Only you can use it.</p>{{/hasGrants}}
        {{#hasGrants}}
        <ul class="apps">
        {{#grants}}
        <li class="app">
        <div><p class="client-name">{{party}}</p><p class="hint">Allowed: {{scopes}}</p></div>
        <form method="post" action="{{base}}/account/sharing/unshare">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <input type="hidden" name="grant_id" value="{{id}}">
        <button type="submit" class="secondary" aria-label="Withdraw access for {{party}}">Withdraw access</button>
        </form>
        </li>
        {{/grants}}
        </ul>
        {{/hasGrants}}
        <form method="post" action="{{base}}/account/sharing/share" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <input type="hidden" name="resource_id" value="{{id}}">
        <div class="field">
        <label for="share-{{id}}">Share with (username)</label>
        <input id="share-{{id}}" name="username" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="64" required>
        </div>
        <fieldset class="scopes"><legend>Permissions</legend>
        {{#scopes}}<label class="scope"><input type="checkbox" name="scope" value="{{.}}"> <span>{{.}}</span></label>{{/scopes}}
        </fieldset>
        <div class="actions"><button type="submit" class="secondary">Share</button></div>
        </form>
        </article>
        {{/sharedResources}}
        </section>

        <section class="section" aria-labelledby="identities-heading">
        <h2 id="identities-heading">Linked identities</h2>
        <ul class="identities">
        {{#identities}}<li>{{.}}</li>{{/identities}}
        </ul>
        {{#hasLinkable}}
        {{#linkable}}
        <form method="post" action="{{base}}/federation/start" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <input type="hidden" name="provider" value="{{id}}">
        <input type="hidden" name="mode" value="link">
        <button type="submit" class="secondary">Link {{name}}</button>
        </form>
        {{/linkable}}
        {{/hasLinkable}}
        </section>

        <section class="section" aria-labelledby="signout-heading">
        <h2 id="signout-heading">Sign out</h2>
        <form method="post" action="{{base}}/logout" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <div class="actions">
        <button type="submit" class="secondary">Sign out</button>
        </div>
        </form>
        </section>
        {{/content}}
        {{/layout}}

        """

    /// The second sign-in step (SPEC §3: the field is named `otp`). Recovery codes go in the
    /// same field, so the input is text, not numeric.
    static let otp = """
        {{<layout}}
        {{$title}}Two-step verification{{/title}}
        {{$content}}
        <h1>Two-step verification</h1>
        {{#client}}<p class="lead">to continue to <strong>{{name}}</strong></p>{{/client}}
        {{>client}}
        <p>Signing in as <strong>{{username}}</strong>.</p>
        {{#error}}<p id="form-error" class="alert" role="alert">{{.}}</p>{{/error}}
        <form method="post" action="{{base}}/login/otp" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        {{#challenge}}<input type="hidden" name="login_challenge" value="{{.}}">{{/challenge}}
        <div class="field">
        <label for="otp">Verification code</label>
        <input id="otp" name="otp" type="text" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" maxlength="32" required autofocus aria-describedby="otp-hint{{#error}} form-error{{/error}}"{{#error}} aria-invalid="true"{{/error}}>
        <p id="otp-hint" class="hint">The 6-digit code from your authenticator app, or one of your recovery codes.</p>
        </div>
        <div class="actions">
        <button type="submit" class="primary">Verify</button>
        </div>
        </form>
        {{/content}}
        {{/layout}}

        """

    /// Enrolment. `{{{qrSVG}}}` is the one unescaped value of all the templates, on purpose: it is
    /// SVG markup that `QRCode.svg` generates here (module shapes, plus a fixed title it escapes
    /// itself) from the provisioning URI this service built; the URI is encoded as modules, never
    /// as text, so no user data reaches the markup. Escaping it would print the markup instead of
    /// drawing the code. Every other value, the secret and the URI included, is escaped.
    static let totpSetup = """
        {{<layout}}
        {{$title}}Set up two-step verification{{/title}}
        {{$content}}
        <h1>Set up two-step verification</h1>
        <ol class="steps">
        <li>Open an authenticator app on your phone and add an account by scanning this QR code.</li>
        <li>Enter the 6-digit code the app shows.</li>
        </ol>
        {{#qrSVG}}<figure class="qr">{{{qrSVG}}}</figure>{{/qrSVG}}
        <p>Can't scan it? Enter this key in the app instead:</p>
        <p><code id="totp-secret" class="secret">{{secret}}</code></p>
        <p class="hint"><a href="{{uri}}">Open in an authenticator app on this device</a></p>
        {{#error}}<p id="form-error" class="alert" role="alert">{{.}}</p>{{/error}}
        <form method="post" action="{{base}}/account/totp/confirm" class="stack">
        <input type="hidden" name="csrf_token" value="{{csrfToken}}">
        <div class="field">
        <label for="otp">Code from the app</label>
        <input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="16" required autofocus{{#error}} aria-describedby="form-error" aria-invalid="true"{{/error}}>
        </div>
        <div class="actions">
        <button type="submit" class="primary">Turn on two-step verification</button>
        <a class="button-link" href="{{base}}/account">Cancel</a>
        </div>
        </form>
        {{/content}}
        {{/layout}}

        """

    static let recoveryCodes = """
        {{<layout}}
        {{$title}}Save your recovery codes{{/title}}
        {{$content}}
        <h1>Two-step verification is on</h1>
        <p class="notice" role="status">Save these recovery codes somewhere safe. Each one signs you in once if you lose your phone. They are shown only now.</p>
        <ul class="codes" aria-label="Recovery codes">
        {{#codes}}<li><code>{{.}}</code></li>{{/codes}}
        </ul>
        <p><a href="{{base}}/account?done=totp_enabled">I have saved them: back to your account</a></p>
        {{/content}}
        {{/layout}}

        """

    /// Served at `/assets/app.css`: the only style the CSP (`style-src 'self'`) admits.
    static let stylesheet = """
        :root {
          color-scheme: light dark;
          --bg: #f4f5f7; --card: #ffffff; --text: #1c1e21; --muted: #5f6670; --border: #d8dbe0;
          --accent: #2f5bea; --accent-text: #ffffff; --alert-bg: #fdecec; --alert-text: #8a1c1c; --focus: #8fb0ff;
          --notice-bg: #e8f4ec; --notice-text: #1d5c32;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #15171a; --card: #1e2125; --text: #e8eaed; --muted: #a0a6ae; --border: #353a40;
            --accent: #6d8dff; --accent-text: #0b0d10; --alert-bg: #3a1d1f; --alert-text: #ffb4b4; --focus: #4a6ee0;
            --notice-bg: #1b3324; --notice-text: #a8e0b8;
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
        .notice { background: var(--notice-bg); color: var(--notice-text); padding: .75rem 1rem; border-radius: .5rem; margin: 0 0 1rem; }
        .section { border-top: 1px solid var(--border); margin-top: 1.5rem; padding-top: .25rem; }
        .details { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
        .details dt { color: var(--muted); }
        .details dd { margin: 0; word-break: break-word; }
        .apps, .codes, .identities { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: .5rem; }
        .app { display: flex; justify-content: space-between; align-items: center; gap: .75rem; padding: .5rem .75rem; border: 1px solid var(--border); border-radius: .5rem; }
        .app .hint { margin: 0; }
        .codes { display: grid; grid-template-columns: repeat(2, 1fr); margin-bottom: 1.5rem; }
        .codes code { font-size: 1rem; letter-spacing: .05em; }
        .qr { margin: 1rem 0; display: flex; justify-content: center; }
        .qr svg { width: 12rem; height: auto; background: #ffffff; }
        .secret { font-size: 1rem; letter-spacing: .08em; }
        .steps { padding-left: 1.25rem; }
        .button-link { align-self: center; }
        a { color: var(--accent); }
        @media (max-width: 30rem) { .card { padding: 1.5rem 1.25rem; } .actions button { flex: 1; } }

        """
}
