using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.Ton;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.MiniApp;

public sealed record MiniAppError(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("message")] string Message);

public sealed record MiniAppErrorBody([property: JsonPropertyName("error")] MiniAppError Error);

public sealed record MeResponse(long UserId, string? FirstName, string? Username, long BalanceNanotons, string? Wallet);

public sealed record WorkersResponse(IReadOnlyList<ModelView> Models);

public sealed record ModelView(string Name, string Sha256, IReadOnlyList<WorkerView> Workers);

/// <summary>
/// A live worker. <see cref="AttestationDocument"/> (the JSON the worker signed, including its HPKE and signing keys)
/// is present when this gateway's directory verified it; the TEE evidence is not kept by the directory, so a client
/// that wants to re-verify the quote itself cannot yet get it here.
/// </summary>
public sealed record WorkerView(
    string WorkerId,
    string ProviderId,
    string AttestationKind,
    int PriceCoefficient,
    int Running,
    int MaxConcurrency,
    string? HpkePublicKey,
    JsonElement? AttestationDocument);

public sealed record TopUpBody(long AmountNanotons);

public sealed record TopUpResponse(Guid InvoiceId, string Comment, long AmountNanotons, string DepositAddress, string TransferLink, TonConnectTransaction Transaction);

public sealed record ProofPayloadResponse(string Payload);

public sealed record ProofCheckResponse(string Address, string AddressFriendly);

/// <summary>
/// The Mini App: the built front end at /miniapp/ (MiniAppWeb) and JSON endpoints under /miniapp/api/, each authenticated by Telegram
/// init data (<c>Authorization: tma &lt;initData&gt;</c>). TON endpoints need the TON services (AddTonChain);
/// without them they answer 503 saying so, and the rest of the Mini App still works.
/// </summary>
public static class MiniAppEndpoints
{
    private const string InitDataItem = "cocoon.miniapp.initdata";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Maps /miniapp/ and /miniapp/api/*. Options are validated here, i.e. at start-up.</summary>
    public static WebApplication MapMiniApp(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = new MiniAppOptions();
        app.Configuration.GetSection(MiniAppOptions.Section).Bind(options);
        var failures = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), failures, validateAllProperties: true))
        {
            throw new OptionsValidationException(MiniAppOptions.Section, typeof(MiniAppOptions), failures.Select(f => f.ErrorMessage ?? "invalid"));
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Cocoon.Bot.MiniApp");
        var clock = app.Services.GetRequiredService<TimeProvider>();
        var token = options.BotToken is { Length: > 0 } own ? own : app.Configuration["Telegram:BotToken"];
        InitDataValidator? validator = null;
        if (string.IsNullOrWhiteSpace(token))
        {
            MiniAppLog.Disabled(logger);
        }
        else
        {
            validator = new InitDataValidator(token.Trim(), options.InitDataMaxAge, clock);
        }

        // The same condition under which the gateway registers the TON services (GatewayHosting).
        var tonChain = !ChainSetup.UsesLocalChain(app.Configuration);

        var webRoot = MiniAppWeb.FindRoot(options.WebRoot);
        if (webRoot is null)
        {
            MiniAppLog.NotBuilt(logger);
        }

        MiniAppWeb.Map(app, webRoot);

        var api = app.MapGroup("/miniapp/api");
        api.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (validator is null)
            {
                return Error(StatusCodes.Status503ServiceUnavailable, "miniapp_disabled", "The Mini App is not configured on this gateway: set TELEGRAM_BOT_TOKEN.");
            }

            var header = http.Request.Headers.Authorization.ToString();
            if (!header.StartsWith("tma ", StringComparison.OrdinalIgnoreCase))
            {
                MiniAppLog.InitDataRefused(logger, "no tma authorization header");
                return Error(StatusCodes.Status401Unauthorized, "missing_init_data", "Send the Mini App's init data as 'Authorization: tma <initData>'.");
            }

            try
            {
                http.Items[InitDataItem] = validator.Validate(header[4..].Trim());
            }
            catch (InitDataException e)
            {
                MiniAppLog.InitDataRefused(logger, e.Message);
                return Error(StatusCodes.Status401Unauthorized, "invalid_init_data", e.Message);
            }

            return await next(context).ConfigureAwait(false);
        });

        api.MapGet("/me", async (HttpContext http, ILedger ledger, WalletLinks links, CancellationToken ct) =>
        {
            var user = User(http);
            var balance = await ledger.GetBalanceAsync(AccountId.User(user.Id), ct).ConfigureAwait(false);
            var wallet = await links.GetAsync(user.Id, ct).ConfigureAwait(false);
            return Ok(new MeResponse(user.Id, user.FirstName, user.Username, balance, wallet));
        });

        api.MapGet("/workers", async (IDispatcher dispatcher, [FromServices] WorkerDirectory? directory, CancellationToken ct) =>
        {
            var models = await dispatcher.GetModelsAsync(ct).ConfigureAwait(false);
            return Ok(new WorkersResponse([.. models.Select(m => new ModelView(m.Name, m.Sha256, [.. m.Workers.Select(w => View(w, directory?.Find(w.WorkerId)))]))]));
        });

        api.MapPost("/topup/ton", async (HttpContext http, [FromServices] DepositInvoices? invoices, CancellationToken ct) =>
        {
            var user = User(http);
            if (invoices is null)
            {
                return TonMissing();
            }

            var body = await ReadAsync<TopUpBody>(http, ct).ConfigureAwait(false);
            if (body is null)
            {
                return Error(StatusCodes.Status400BadRequest, "invalid_json", "Send {\"amount_nanotons\": <whole nanotons>}.");
            }

            if (body.AmountNanotons < options.TopUpMinimum || body.AmountNanotons > options.TopUpMaximum)
            {
                return Error(StatusCodes.Status400BadRequest, "invalid_amount", $"amount_nanotons must be between {options.TopUpMinimum} and {options.TopUpMaximum}.");
            }

            var invoice = await invoices.CreateAsync(AccountId.User(user.Id), body.AmountNanotons, ct).ConfigureAwait(false);
            var transaction = invoices.TopUpRequest(invoice, options.TopUpValidity);
            MiniAppLog.InvoiceCreated(logger, invoice.Id, user.Id, invoice.AmountDue);
            return Ok(new TopUpResponse(invoice.Id, invoice.Comment, invoice.AmountDue, transaction.Messages[0].Address, invoices.TransferLink(invoice), transaction));
        });

        api.MapPost("/ton-proof/payload", async (HttpContext http, [FromServices] TonProofVerifier? verifier, CancellationToken ct) =>
            verifier is not null
                ? Ok(new ProofPayloadResponse(await verifier.IssueNonceAsync(ProofSubject(User(http)), ct).ConfigureAwait(false)))
                : ProofMissing(tonChain));

        api.MapPost("/ton-proof/check", async (HttpContext http, [FromServices] TonProofVerifier? verifier, WalletLinks links, CancellationToken ct) =>
        {
            var user = User(http);
            if (verifier is null)
            {
                return ProofMissing(tonChain);
            }

            var login = await ReadAsync<TonConnectLogin>(http, ct).ConfigureAwait(false);
            if (login?.Proof?.Domain is null || login.Address is null || login.Proof.Payload is null || login.Proof.Signature is null)
            {
                return Error(StatusCodes.Status400BadRequest, "invalid_json", "Send the TON Connect account (address, walletStateInit, public_key) with its ton_proof.");
            }

            TonAddress address;
            try
            {
                address = await verifier.VerifyAsync(login.ToRequest(), ProofSubject(user), ct).ConfigureAwait(false);
            }
            catch (TonProofException e)
            {
                MiniAppLog.ProofRefused(logger, user.Id, e.Message);
                return Error(StatusCodes.Status400BadRequest, "invalid_ton_proof", e.Message);
            }

            try
            {
                await links.LinkAsync(user.Id, address.ToRaw(), ct).ConfigureAwait(false);
            }
            catch (WalletLinkedElsewhereException e)
            {
                return Error(StatusCodes.Status409Conflict, "wallet_linked_elsewhere", e.Message);
            }

            MiniAppLog.WalletLinked(logger, address.ToRaw(), user.Id);
            return Ok(new ProofCheckResponse(address.ToRaw(), address.ToFriendly(bounceable: false, testOnly: login.Network == "-3")));
        });

        MiniAppChat.Map(api, options, Json, logger);
        MiniAppSealed.Map(api, options);
        MiniAppReceipts.Map(api, options);
        MiniAppAccount.Map(api);
        return app;
    }

    internal static MiniAppUser CurrentUser(HttpContext http) => User(http);

    private static MiniAppUser User(HttpContext http) => ((InitData)http.Items[InitDataItem]!).User;

    /// <summary>Whom a ton_proof payload is issued to: the Telegram user, so another user cannot spend it.</summary>
    private static string ProofSubject(MiniAppUser user) => "tg:" + user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static WorkerView View(ServedWorker worker, EligibleWorker? verified) => new(
        worker.WorkerId,
        worker.ProviderId,
        worker.AttestationKind,
        worker.PriceCoefficient,
        worker.Running,
        worker.MaxConcurrency,
        verified is null ? null : Convert.ToHexStringLower(verified.Document.HpkePublicKey),
        verified is null ? null : JsonSerializer.SerializeToElement(verified.Document, AttestationJson.Default.AttestationDocument));

    internal static async Task<T?> ReadAsync<T>(HttpContext http, CancellationToken ct)
        where T : class
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(http.Request.Body, Json, ct).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return null;
        }
        catch (IOException ex) when (!ct.IsCancellationRequested)
        {
            // Broken framing (e.g. an overflowing chunk size) is the client's fault: a 400, not a 500.
            throw new BadHttpRequestException("The request body could not be read.", StatusCodes.Status400BadRequest, ex);
        }
    }

    internal static IResult Ok<T>(T value) => Results.Json(value, Json);

    /// <summary>Wallet login needs the chain and the Mini App's domain (a proof names the domain it was made for).</summary>
    private static IResult ProofMissing(bool tonChain) => tonChain
        ? Error(StatusCodes.Status503ServiceUnavailable, "ton_proof_not_configured",
            "TON wallet login is off on this gateway: set Ton:Proof:AllowedDomains to the Mini App's domain (e.g. Ton__Proof__AllowedDomains__0=app.example.org).")
        : TonMissing();

    private static IResult TonMissing() =>
        Error(StatusCodes.Status503ServiceUnavailable, "ton_not_configured", "TON payments are not configured on this gateway (Ton:ApiUrl, Ton:WalletSeed).");

    internal static IResult Error(int status, string code, string message) =>
        Results.Json(new MiniAppErrorBody(new MiniAppError(code, message)), Json, statusCode: status);
}
