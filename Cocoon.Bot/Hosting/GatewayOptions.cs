using System.ComponentModel.DataAnnotations;
using Cocoon.Network.Hosting;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Hosting;

/// <summary>The gateway's own settings (section <c>Gateway</c>; environment variables COCOON_HTTP and COCOON_API_KEY).</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Account that pays for calls made with the local developer key.</summary>
    public static readonly Ledger.Accounts.AccountId LocalDeveloper = Ledger.Accounts.AccountId.ApiKey("local");

    /// <summary>Where Kestrel listens (COCOON_HTTP), unless <c>--urls</c> or ASPNETCORE_URLS says otherwise.</summary>
    public string Url { get; set; } = CocoonEnvironment.DefaultHttp;

    /// <summary>The local developer key (COCOON_API_KEY); registered at start-up, paid by <see cref="LocalDeveloper"/>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Free allowance granted once to the local developer account, so a fresh <c>./cocoon up</c> can answer (10 TON).</summary>
    [Range(0, long.MaxValue)]
    public long LocalDeveloperAllowanceNanotons { get; set; } = 10_000_000_000;

    /// <summary>Largest request body accepted; larger ones get 413 without being read.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Default completion length when a request gives none.</summary>
    [Range(1, 1_000_000)]
    public int DefaultMaxTokens { get; set; } = 256;

    /// <summary>Longest <c>timeout</c> (seconds) a request may ask for.</summary>
    [Range(1, 3600)]
    public int MaxTimeoutSeconds { get; set; } = 600;
}

/// <summary>Checks that DataAnnotations can't express, with messages that name the setting and the fix.</summary>
internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = new List<string>();
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"Gateway:Url (COCOON_HTTP) must be an absolute http:// or https:// URL such as {CocoonEnvironment.DefaultHttp}, not '{options.Url}'.");
        }

        if (options.ApiKey is { } key && (key.Length < 16 || key.Length > 256 || key.Any(char.IsWhiteSpace)))
        {
            failures.Add("Gateway:ApiKey (COCOON_API_KEY) must be 16 to 256 characters without spaces; unset it to have './cocoon up' generate one.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
