namespace Cocoon.Network.Access;

/// <summary>
/// Every reason a worker may be turned away, in the words the provider reads on the worker's console and in
/// /provider status, with what to do. The reason codes are the gateway's refusal metric labels.
/// </summary>
public static class JoinRefusals
{
    public const string TokenRevoked = "token-revoked";
    public const string Paused = "provider-paused";
    public const string UntrustedPlatform = "untrusted-platform";
    public const string UnknownMeasurement = "unknown-measurement";
    public const string UnknownModel = "unknown-model";
    public const string WorkerIdTaken = "worker-id-taken";
    public const string KeyMismatch = "key-mismatch";
    public const string ProviderMismatch = "provider-mismatch";
    public const string NotJoined = "not-joined";
    public const string CertificateMissing = "certificate-missing";
    public const string CertificateForged = "certificate-forged";
    public const string CertificateExpired = "certificate-expired";
    public const string ProviderKeyRevoked = "provider-key-revoked";
    public const string ProviderKeyUnregistered = "provider-key-unregistered";

    /// <summary>What the worker console and /provider status tell a provider about its key (one place, so both say the same).</summary>
    public const string KeyHelp =
        "The worker reads the provider key from COCOON_PROVIDER_KEY (default: provider.key in its data folder, COCOON_DATA); " +
        "./cocoon provider keygen makes it and prints the /provider key command that registers its public key.";

    /// <summary>The refusal for a reason code (any code the attestation verifier gives is covered).</summary>
    public static JoinRefusal For(string reason, string detail) => reason switch
    {
        TokenRevoked => new(reason, detail,
            "This worker token is not registered (or was revoked). Register again with /provider register in the bot and start the worker with the new COCOON_WORKER_TOKEN.", false),
        Paused => new(reason, detail,
            "Your provider is paused. Send /provider resume in the bot; the worker waits and starts serving by itself.", true),
        UntrustedPlatform or "simulated-not-allowed" => new(reason, detail,
            "This network does not trust this worker's platform. Run the worker in a TEE the network accepts (COCOON_TEE=tdx in an Intel TDX guest), or ask the operator to list your platform key.", false),
        "consumer-not-allowed" => new(reason, detail,
            "This network takes no workers without a TEE (the consumer tier, COCOON_TEE=none). Run the worker in a TEE the network accepts (COCOON_TEE=tdx in an Intel TDX guest), or ask the operator whether it will open the consumer tier.", false),
        "unknown-tee" => new(reason, detail,
            "The worker names a TEE the network does not know. Set COCOON_TEE to tdx, or to none for the consumer tier where the network allows it.", false),
        "tdx-unverifiable" => new(reason, detail,
            "The network cannot verify this TDX quote. Ask the operator which TDX setup it accepts.", false),
        UnknownMeasurement => new(reason, detail,
            "This worker build is not on the network's list of allowed measurements. Install the release the network names (git pull, then ./cocoon worker) or ask the operator to allow this build.", false),
        UnknownModel => new(reason, detail,
            "The network does not serve this model. Start the worker with one of the models in the network's policy (COCOON_MODEL or --model).", false),
        WorkerIdTaken => new(reason, detail,
            "Another worker holds this worker id. Leave COCOON_WORKER_ID unset (a new id per start) or pick a different one; a stopped worker's id is free again once its registration expires.", true),
        KeyMismatch => new(reason, detail,
            "This worker id is pinned to another signing key. Restart the worker so it joins again.", false),
        ProviderMismatch => new(reason, detail,
            "The worker's document names another provider than its token. Use the token of the provider this worker belongs to.", false),
        NotJoined => new(reason, detail,
            "The worker did not join through the gateway. Start it with ./cocoon worker and COCOON_JOIN_URL.", false),
        CertificateMissing => new(reason, detail,
            "Your provider registered a provider key, so every worker needs a certificate signed by it. Start the worker where it can read that key. " + KeyHelp, false),
        CertificateForged => new(reason, detail,
            "The worker's certificate is not signed by the provider key you registered (/provider status shows its start). Point COCOON_PROVIDER_KEY at that key, or register this one with /provider key <public key>. " + KeyHelp, false),
        CertificateExpired => new(reason, detail,
            "The worker's certificate has expired. Restart the worker: it signs a new one with your provider key (check the machine's clock with timedatectl).", false),
        ProviderKeyRevoked => new(reason, detail,
            "The worker's certificate is signed by a provider key you replaced. Restart the worker with the new key (COCOON_PROVIDER_KEY, or provider.key in its data folder).", false),
        ProviderKeyUnregistered => new(reason, detail,
            "The worker signed a certificate with a provider key, but you have not registered one. Send /provider key <public key> in the bot (./cocoon provider keygen prints the exact command), then restart the worker.", false),
        "expired" or "not-yet-valid" => new(reason, detail,
            "The worker's attestation is not valid now. Check the machine's clock (timedatectl) and restart the worker.", false),
        "bad-signature" or "evidence-mismatch" or "malformed" => new(reason, detail,
            "The worker's attestation does not verify. Reinstall the worker (git pull, ./cocoon worker) and try again.", false),
        _ => new(reason, detail, "Restart the worker; if it is refused again, tell the operator this reason.", false),
    };
}
