import Testing
@testable import WendaoServer

/// `WENDAO_JOB_LEASE_SECONDS`: how long a dead server's job waits before another takes it over.
struct JobLeaseSettingTests {
    @Test("The lease length: 1–3600 s as given, else the 30 s default")
    func leaseSeconds() {
        #expect(JobLease.leaseSeconds(nil) == 30)
        #expect(JobLease.leaseSeconds("3") == 3)
        #expect(JobLease.leaseSeconds(" 2.5 ") == 2.5)
        for bad in ["", "0", "-4", "3601", "nan", "inf", "soon"] {
            #expect(JobLease.leaseSeconds(bad) == 30, "\(bad)")
        }
    }
}
