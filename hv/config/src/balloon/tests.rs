//! The balloon extension offline: validation names every field, the sets map what they
//! must, and the certificate refuses sets that would put a page in two VMs.
