using Cocoon.Engine.Attestation;

namespace Cocoon.Worker.Attestation;

/// <summary>
/// Intel TDX through the Linux configfs-tsm report interface (kernel 6.7+ in a TDX guest): a new report entry,
/// 64 bytes of report data written to <c>inblob</c> (the document hash, zero-padded), the TD quote read from
/// <c>outblob</c>. The quote's signature chain is Intel's; see <see cref="TdxQuote"/> for what Cocoon checks offline.
/// </summary>
public sealed class TdxTeeProvider : ITeeProvider
{
    public const string TeeKind = TeeKinds.Tdx;
    public const string DefaultReportRoot = "/sys/kernel/config/tsm/report";

    private readonly string _reportRoot;

    public TdxTeeProvider(string reportRoot = DefaultReportRoot)
    {
        _reportRoot = reportRoot;
    }

    public string Kind => TeeKind;

    public bool IsAvailable => Directory.Exists(_reportRoot);

    public async Task<AttestationEvidence> AttestAsync(ReadOnlyMemory<byte> documentHash, CancellationToken cancellationToken)
    {
        if (documentHash.Length != 32)
        {
            throw new ArgumentException("The document hash must be a 32-byte SHA-256.", nameof(documentHash));
        }

        if (!IsAvailable)
        {
            throw new TeeUnavailableException(
                $"TDX attestation needs the configfs-tsm report interface at {_reportRoot}, which does not exist here: run the worker " +
                "inside an Intel TDX guest (Linux 6.7 or newer, configfs mounted) or choose the simulated TEE provider.");
        }

        var entry = Path.Combine(_reportRoot, "cocoon-" + Guid.NewGuid().ToString("N"));
        try
        {
            // mkdir on configfs creates the report entry with its inblob/outblob attributes.
            Directory.CreateDirectory(entry);
            var reportData = new byte[TdxQuote.ReportDataSize];
            documentHash.Span.CopyTo(reportData);
            await File.WriteAllBytesAsync(Path.Combine(entry, "inblob"), reportData, cancellationToken);
            var outblob = Path.Combine(entry, "outblob");
            if (!File.Exists(outblob))
            {
                throw new TeeUnavailableException($"{entry} has no outblob: {_reportRoot} is not a configfs-tsm report interface.");
            }

            // The same interface serves AMD SEV-SNP and others; their reports are not TD quotes.
            var providerFile = Path.Combine(entry, "provider");
            if (File.Exists(providerFile)
                && (await File.ReadAllTextAsync(providerFile, cancellationToken)).Trim() is var provider && provider != "tdx_guest")
            {
                throw new TeeUnavailableException($"configfs-tsm at {_reportRoot} is backed by '{provider}', not tdx_guest: this is not an Intel TDX guest.");
            }

            var quote = await File.ReadAllBytesAsync(outblob, cancellationToken);
            if (quote.Length == 0)
            {
                throw new TeeUnavailableException($"The TDX quote read from {outblob} is empty: the quote generation service did not answer.");
            }

            return new AttestationEvidence(TeeKind, quote);
        }
        catch (IOException e)
        {
            throw new TeeUnavailableException($"TDX quote generation through {entry} failed: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TeeUnavailableException($"TDX quote generation through {entry} was denied: {e.Message} (the worker needs write access to {_reportRoot}).", e);
        }
        finally
        {
            try
            {
                // configfs entries are removed with rmdir, never recursively.
                if (Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: false);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
